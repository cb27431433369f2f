"""What `gradscribe verify` establishes about a network: the proof of every derived formula
against sympy.diff, and the check of the generated NumPy kernel (forward values against the
definitions, gradients against finite differences). Shared by the API and the command line."""

from __future__ import annotations

from dataclasses import dataclass

from ..derive import proof
from ..derive.spec import Network
from . import finite_differences as fd


@dataclass
class Verification:
    """The outcome of `verify`: `proof` (a `ProofReport`) and `kernel` (a `KernelCheck`, or
    ``None`` with the reason in `kernel_error` when the kernel could not be checked).

    `ok` is true only when every formula is proven and the kernel check passes. The proof
    report's attributes (`verdicts`, `network`, `proven_on`, `batch`, `points`, `built`,
    `capped`) are reachable here too; `proof.ok` alone is the proof's verdict.
    """

    proof: proof.ProofReport
    kernel: fd.KernelCheck | None
    kernel_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.proof.ok and self.kernel_ok

    @property
    def kernel_ok(self) -> bool:
        return self.kernel is not None and self.kernel.ok

    # ----------------------------------------------------------- the proof report's attributes
    @property
    def network(self) -> Network:
        return self.proof.network

    @property
    def proven_on(self) -> Network:
        return self.proof.proven_on

    @property
    def batch(self) -> int:
        """The proof's batch size N (the kernel check's is `kernel.batch`)."""
        return self.proof.batch

    @property
    def points(self) -> int:
        return self.proof.points

    @property
    def verdicts(self) -> list[proof.Verdict]:
        return self.proof.verdicts

    @property
    def built(self) -> bool:
        return self.proof.built

    @property
    def capped(self) -> bool:
        return self.proof.capped

    # ----------------------------------------------------------- reports
    def to_json(self) -> dict:
        """The object `gradscribe verify --json` prints."""
        data = self.proof.to_json()
        data["ok"] = self.ok
        if self.kernel is not None:
            data["kernel"] = self.kernel.to_json()
        else:
            data["kernel"] = {"ok": False, "error": self.kernel_error}
        return data

    def report(self) -> str:
        """The text `gradscribe verify` prints: one line per formula, then the kernel check."""
        kernel = (
            self.kernel.report() if hasattr(self.kernel, "report")
            else format_kernel(self.kernel)
            if self.kernel is not None
            else f"generated NumPy kernel: FAIL {self.kernel_error}"
        )
        return format_proof(self.proof) + "\n" + kernel

    __str__ = report

    def __repr__(self) -> str:
        return self.report()

    def _repr_markdown_(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        return f"**verify** `{self.network.inline()}`: {verdict}\n\n```\n{self.report()}\n```"


def verify(net: Network, max_width: int = 3, batch: int = 2, points: int = 2, seed: int = 0) -> Verification:
    """Prove `net`'s derivation (widths capped at `max_width`, batch N = `batch`, `points`
    exact points) and check its generated kernel at one float64 point; `seed` seeds both."""
    for name, value in (("max_width", max_width), ("batch", batch), ("points", points)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
    report = proof.prove(net, max_width=max_width, batch=batch, points=points, seed=seed)
    if not report.built:
        return Verification(report, None, "not checked: the derivation could not be built")
    if not net.plain:  # batch norm, dropout, a penalty: training mode with fixed masks
        from . import regularized_kernel

        try:
            return Verification(report, regularized_kernel.check(net, seed=seed))
        except fd.PointNotFound as exc:
            return Verification(report, None, str(exc))
    try:
        return Verification(report, fd.check_kernel(net, seed=seed))
    except fd.PointNotFound as exc:
        return Verification(report, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - a kernel that raises fails the check, not verify
        return Verification(report, None, f"the generated kernel raised {type(exc).__name__}: {exc}")


# ------------------------------------------------------------------------------ text


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


def format_proof(report: proof.ProofReport) -> str:
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
        f"proven on sizes {shapes}, batch N = "
        f"{' and '.join(map(str, report.batches or (report.batch,)))}, {report.points} exact "
        f"random point(s){', the batch sizes in turn' if len(report.batches) > 1 else ''}{note}"
    )
    for v in report.verdicts:
        verdict = "ok  " if v.ok else "??  " if v.undecided else "FAIL"
        shape = "x".join(map(str, v.shape))
        line = f"  {verdict} {v.name:<6} ({v.label}, {shape}) equals {v.reference}"
        if not v.ok:
            line = f"  {verdict} {v.name:<6} ({v.label}, {shape}): {v.mismatch}"
        lines.append(line)
    good = sum(v.ok for v in report.verdicts)
    summary = f"{good} of {len(report.verdicts)} formulas proven"
    if any(not v.ok and not v.undecided for v in report.verdicts):
        summary += "; MISMATCH"
    undecided = sum(v.undecided for v in report.verdicts)
    if undecided:
        summary += f"; {undecided} undecided (neither proven nor shown wrong)"
    lines.append(summary)
    return "\n".join(lines)
