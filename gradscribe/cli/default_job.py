"""`gradscribe` with no command: everything for the embedded default network."""

from __future__ import annotations

from pathlib import Path

from ..codegen.kernel import render_kernel
from ..codegen.writeup import render_writeup
from ..derive import proof
from ..derive.chain import derive
from ..derive.errors import show_path
from ..derive.spec import default_network
from .errors import UsageError
from .files import check_destination, write_output


def run_default(out_dir: str, force: bool = False) -> int:
    """Write the default network's write-ups and its module in both styles into `out_dir`
    (created if missing): derivation.tex, derivation.md, NAME.py (fast) and NAME_textbook.py
    (one line per equation of the write-ups, for any array library); print a summary. Its own earlier outputs are overwritten, other files only with
    `force`."""
    net = default_network()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{show_path(out)}: cannot create the folder ({exc.strerror or exc})") from None
    except ValueError:  # a NUL character in the path
        raise UsageError(f"{show_path(out)}: not a possible folder name") from None
    names = [out / "derivation.tex", out / "derivation.md", out / f"{net.name}.py", out / f"{net.name}_textbook.py"]
    for path in names:
        check_destination(path, force=force)
    derivation = derive(net)
    # The hand-out: the write-ups carry the worked example, so they can be followed with a calculator.
    texts = [
        render_writeup(derivation, "tex", example=True),
        render_writeup(derivation, "md", example=True),
        render_kernel(derivation),
        render_kernel(derivation, "textbook"),  # to read next to the write-ups
    ]
    outputs = dict(zip(names, texts))
    for path, text in outputs.items():
        write_output(path, text, force=force)
    report = proof.prove(net)
    print(f"gradscribe: default network {net.name} ({net.inline()})")
    print(f"  proof: {sum(v.ok for v in report.verdicts)} of {len(report.verdicts)} formulas equal sympy.diff"
          + (f" (widths capped at {max(report.proven_on.sizes)})" if report.capped else ""))
    for path in outputs:
        print(f"  wrote {path}")
    return 0 if report.ok else 1
