"""`gradscribe verify NET [--json]`: the proof, reported per formula."""

from __future__ import annotations

import json

from ..codegen.finite_differences import TOLERANCE, check_kernel, sized_for_differences
from ..mathematics import proof, spec
from .errors import UsageError


def run_verify(args) -> int:
    net = spec.load(args.net)
    for name in ("max_width", "batch", "points"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    report = proof.prove(net, max_width=args.max_width, batch=args.batch, points=args.points)
    differences = check_kernel(net)
    fd_sizes = sized_for_differences(net).sizes
    kernel_ok = all(d.ok for d in differences)
    if args.json:
        data = report.to_json()
        data["ok"] = report.ok and kernel_ok
        data["finite_differences"] = {
            "ok": kernel_ok,
            "tolerance": TOLERANCE,
            "sizes": list(fd_sizes),
            "params": {
                d.name: {"ok": d.ok, "analytic": d.analytic, "numeric": d.numeric, "rel_err": d.rel_err}
                for d in differences
            },
        }
        print(json.dumps(data, indent=2))
    else:
        print(format_report(report))
        print(format_differences(differences, fd_sizes, net.sizes))
    return 0 if report.ok and kernel_ok else 1


def format_differences(differences, sizes, full_sizes) -> str:
    """The finite-difference check of the generated kernel, one line per parameter."""
    worst = max(d.rel_err for d in differences)
    where = "full sizes" if tuple(sizes) == tuple(full_sizes) else (
        "sizes " + "-".join(map(str, sizes)) + ", capped to bound memory"
    )
    lines = [
        f"generated NumPy kernel vs central finite differences (float64, {where}), "
        f"max relative error {worst:.1e} (tolerance {TOLERANCE:g})"
    ]
    for d in differences:
        if not d.ok:
            lines.append(
                f"  FAIL {d.name}: backward gives {d.analytic!r}, finite differences {d.numeric!r}"
            )
    return "\n".join(lines)


def format_report(report: proof.ProofReport) -> str:
    """A human-readable table: one line per formula."""
    small = report.proven_on
    lines = [f"verify {report.network.inline()}"]
    shapes = "-".join(map(str, small.sizes))
    note = (
        f" (widths capped at {max(small.sizes)}; the derivation is the same for every width)"
        if report.capped
        else ""
    )
    lines.append(
        f"proven on sizes {shapes}, batch N = {report.batch}, {report.points} exact random "
        f"point(s){note}"
    )
    for v in report.verdicts:
        verdict = "ok  " if v.ok else "FAIL"
        shape = "x".join(map(str, v.shape))
        line = f"  {verdict} {v.name:<6} ({v.label}, {shape}) equals {v.reference}"
        if not v.ok:
            line = f"  {verdict} {v.name:<6} ({v.label}, {shape}): {v.mismatch}"
        lines.append(line)
    good = sum(v.ok for v in report.verdicts)
    lines.append(f"{good} of {len(report.verdicts)} formulas proven" + ("" if report.ok else "; MISMATCH"))
    return "\n".join(lines)
