"""`gradscribe verify NET [--json]`: the proof, reported per formula, then the generated kernel."""

from __future__ import annotations

import json

from ..codegen import finite_differences as fd
from ..mathematics import proof, spec
from .errors import UsageError


def run_verify(args) -> int:
    net = spec.load(args.net)
    for name in ("max_width", "batch", "points"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    report = proof.prove(net, max_width=args.max_width, batch=args.batch, points=args.points)
    kernel = None
    kernel_error = "not checked: the derivation could not be built"
    if report.built:
        try:
            kernel = fd.check_kernel(net)
        except fd.PointNotFound as exc:
            kernel_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a kernel that raises fails the check, not verify
            kernel_error = f"the generated kernel raised {type(exc).__name__}: {exc}"
    kernel_ok = kernel is not None and kernel.ok
    ok = report.ok and kernel_ok
    if args.json:
        data = report.to_json()
        data["ok"] = ok
        if kernel is not None:
            data["kernel"] = kernel.to_json()
        else:
            data["kernel"] = {"ok": False, "error": kernel_error}
        print(json.dumps(data, indent=2))
    else:
        print(format_report(report))
        if kernel is not None:
            print(format_kernel(kernel))
        else:
            print(f"generated NumPy kernel: FAIL {kernel_error}")
    return 0 if ok else 1


def _sizes(sizes) -> str:
    return "-".join(map(str, sizes))


def format_kernel(check: fd.KernelCheck) -> str:
    """The generated kernel against the definitions and against finite differences."""
    if check.full_size:
        where = f"full sizes {_sizes(check.sizes)}"
    else:
        where = (
            f"sizes {_sizes(check.sizes)}, widths capped from {_sizes(check.full_sizes)} to stay "
            f"under {fd.MAX_PARAMETERS:,} parameters"
        )
    lines = [f"generated NumPy kernel ({where}; float64, batch {check.batch}, one point clear of every kink)"]
    for v in check.forward:
        what = "forward P" if v.name == "P" else "loss"
        if v.shape_error:
            lines.append(f"  FAIL {what}: {v.shape_error}")
            continue
        at = "" if v.index is None else f" (worst entry P[{', '.join(map(str, v.index))}])"
        verdict = "ok  " if v.ok else "FAIL"
        relation = "equals" if v.ok else "differs from"
        lines.append(
            f"  {verdict} {what} {relation} the definitions{at}: kernel {v.kernel:.17g}, "
            f"definition {v.definition:.17g}, |difference| {v.error:.1e} "
            f"{'<=' if v.ok else '>'} round-off bound {v.tolerance:.1e}"
        )
    one_by_one = (
        f"all {check.entries:,} gradient entries one by one"
        if check.checked == check.entries
        else f"{check.checked:,} of {check.entries:,} gradient entries one by one (every bias entry "
        "where the budget allows, sampled weights) and each parameter along a random direction"
    )
    worst = check.worst
    verdict = "ok  " if check.gradients_ok else "FAIL"
    summary = f"  {verdict} gradients vs central finite differences: {one_by_one}"
    if worst is not None:
        summary += f"; worst {worst.where()} at {worst.ratio:.2g} of its tolerance"
    lines.append(summary)
    lines.append(f"       tolerance: {check.tolerances.describe()}")
    for p in check.params:
        if p.shape_error:
            lines.append(f"  FAIL d{p.name}: {p.shape_error}")
        elif not p.ok:
            w = p.worst
            lines.append(
                f"  FAIL d{p.name}: worst {w.where()}: kernel {w.kernel:.12g}, finite differences "
                f"{w.numeric:.12g}, |difference| {w.error:.1e} > tolerance {w.tolerance:.1e}"
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
