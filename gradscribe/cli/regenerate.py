"""`gradscribe regenerate [--check]`: the checked-in kernels in generated/, kept in step.

Every `generated/NAME.toml` spec has its kernel in both styles, `generated/NAME.py` (fast)
and `generated/NAME_textbook.py` (textbook), rendered by `gradscribe.codegen.kernel`. `regenerate` rewrites the kernels (atomically, only those that changed); a
kernel edited by hand (its body no longer matches the sha256 in its header) or a file there
that gradscribe did not write is left alone and named, with exit status 1, unless `--force`.
`regenerate --check` writes nothing and exits 1 naming every kernel that is missing or differs
from what the generator renders today.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..codegen.kernel import render_network
from ..codegen.stamp import provenance
from ..derive.errors import show_path
from ..derive.spec import load_file
from .errors import UsageError
from .files import write_output

DEFAULT_DIR = "generated"


@dataclass(frozen=True)
class Status:
    """One kernel: its path, its spec, 'ok', 'stale' or 'missing', and for a stale one where it
    came from ('generated', 'edited', 'foreign' or 'empty', see `gradscribe.codegen.stamp.provenance`)."""

    kernel: Path
    spec: Path
    state: str
    origin: str = ""


#: The kernel file of each style, from the spec's path.
STYLE_PATHS = {
    "fast": lambda spec: spec.with_suffix(".py"),
    "textbook": lambda spec: spec.with_name(f"{spec.stem}_textbook.py"),
}


def expected(folder: Path) -> dict[Path, tuple[Path, str]]:
    """kernel path -> (spec path, the text the generator renders for it), in name order."""
    specs = sorted(folder.glob("*.toml"))
    if not specs:
        raise UsageError(f"regenerate: no *.toml specs in {folder}")
    out = {}
    for spec in specs:
        net = load_file(spec)
        for style, path in STYLE_PATHS.items():
            out[path(spec)] = (spec, render_network(net, style))
    return dict(sorted(out.items()))


def statuses(folder: Path, rendered: dict[Path, tuple[Path, str]]) -> list[Status]:
    """Compare each kernel on disk with what the generator renders."""
    out = []
    for kernel, (spec, text) in rendered.items():
        if not kernel.exists():
            out.append(Status(kernel, spec, "missing"))
            continue
        try:
            data = kernel.read_bytes()
        except OSError as exc:
            raise UsageError(f"{show_path(kernel)}: cannot read ({exc.strerror or exc})") from None
        if data == text.encode("utf-8"):
            out.append(Status(kernel, spec, "ok"))
        else:
            out.append(Status(kernel, spec, "stale", provenance(data)))
    return out


_WHY = {
    "edited": "edited by hand since gradscribe wrote it",
    "foreign": "not written by gradscribe",
}


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
            if s.origin in _WHY:
                why += f"; {_WHY[s.origin]}"
            print(f"{s.state}: {s.kernel} ({why} from {s.spec.name})")
        if bad:
            print(f"{len(bad)} of {len(found)} generated kernels out of date; run `gradscribe regenerate`")
            return 1
        print(f"all {len(found)} generated kernels up to date")
        return 0
    kept = [s for s in bad if s.origin in _WHY and not args.force]
    for s in bad:
        if s in kept:
            continue
        write_output(s.kernel, rendered[s.kernel][1], force=args.force)
        print(f"wrote {s.kernel}")
    for s in kept:
        print(
            f"gradscribe: {show_path(s.kernel)} was {_WHY[s.origin]}; not overwritten "
            "(--force overwrites it)",
            file=sys.stderr,
        )
    print(f"{len(bad) - len(kept)} of {len(found)} generated kernels rewritten"
          + (f", {len(kept)} left as they are" if kept else ""))
    return 1 if kept else 0
