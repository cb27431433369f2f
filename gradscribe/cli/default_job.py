"""`gradscribe` with no command: everything for the embedded default network."""

from __future__ import annotations

from pathlib import Path

from ..codegen.kernel import render_kernel
from ..codegen.writeup import render_writeup
from ..mathematics import proof
from ..mathematics.chain import derive
from ..mathematics.spec import default_network
from .files import write_atomic


def run_default(out_dir: str) -> int:
    """Write the default network's write-ups and NumPy module into `out_dir`; print a summary."""
    net = default_network()
    derivation = derive(net)
    out = Path(out_dir)
    outputs = {
        out / "derivation.tex": render_writeup(derivation, "tex"),
        out / "derivation.md": render_writeup(derivation, "md"),
        out / f"{net.name}.py": render_kernel(derivation),
    }
    for path, text in outputs.items():
        write_atomic(path, text)
    report = proof.prove(net)
    print(f"gradscribe: default network {net.name} ({net.inline()})")
    print(f"  proof: {sum(v.ok for v in report.verdicts)} of {len(report.verdicts)} formulas equal sympy.diff"
          + (f" (widths capped at {max(report.proven_on.sizes)})" if report.capped else ""))
    for path in outputs:
        print(f"  wrote {path}")
    return 0 if report.ok else 1
