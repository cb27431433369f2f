"""`gradscribe regenerate [--check]`: the checked-in kernels in generated/, kept in step.

Every `generated/NAME.toml` spec has its kernel `generated/NAME.py`, rendered by
`codegen.kernel`. `regenerate` rewrites the kernels (atomically, only those that changed);
`regenerate --check` writes nothing and exits 1 naming every kernel that is missing or differs
from what the generator renders today.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..codegen.kernel import render_network
from ..mathematics.spec import load_file
from .errors import UsageError
from .files import write_atomic

DEFAULT_DIR = "generated"


@dataclass(frozen=True)
class Status:
    """One kernel: its path, its spec, and 'ok', 'stale' or 'missing'."""

    kernel: Path
    spec: Path
    state: str


def expected(folder: Path) -> dict[Path, tuple[Path, str]]:
    """kernel path -> (spec path, the text the generator renders for it), in name order."""
    specs = sorted(folder.glob("*.toml"))
    if not specs:
        raise UsageError(f"regenerate: no *.toml specs in {folder}")
    return {spec.with_suffix(".py"): (spec, render_network(load_file(spec))) for spec in specs}


def statuses(folder: Path, rendered: dict[Path, tuple[Path, str]]) -> list[Status]:
    """Compare each kernel on disk with what the generator renders."""
    out = []
    for kernel, (spec, text) in rendered.items():
        if not kernel.is_file():
            state = "missing"
        elif kernel.read_text(encoding="utf-8") != text:
            state = "stale"
        else:
            state = "ok"
        out.append(Status(kernel, spec, state))
    return out


def run_regenerate(args) -> int:
    """Rewrite (or with --check, compare) every kernel in args.dir (default ./generated)."""
    folder = Path(args.dir if args.dir is not None else DEFAULT_DIR)
    if not folder.is_dir():
        raise UsageError(f"regenerate: no folder {folder} (run it from the repository root or pass --dir)")
    rendered = expected(folder)
    found = statuses(folder, rendered)
    bad = [s for s in found if s.state != "ok"]
    if args.check:
        for s in bad:
            why = "no such file" if s.state == "missing" else "differs from what the generator renders"
            print(f"{s.state}: {s.kernel} ({why} from {s.spec.name})")
        if bad:
            print(f"{len(bad)} of {len(found)} generated kernels out of date; run `gradscribe regenerate`")
            return 1
        print(f"all {len(found)} generated kernels up to date")
        return 0
    for s in bad:
        write_atomic(s.kernel, rendered[s.kernel][1])
        print(f"wrote {s.kernel}")
    print(f"{len(bad)} of {len(found)} generated kernels rewritten")
    return 0
