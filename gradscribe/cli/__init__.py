"""The `gradscribe` command line (contract section 6).

Exit status: 0 success, 1 a check or verification found something wrong, 2 bad input or
usage (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

from .. import __version__
from ..derive import limits
from ..derive.errors import SpecError, one_line, show_path
from .errors import Refused, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, instead of argparse's usage block
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gradscribe",
        description="Derive back-propagation for an MLP, write it up, generate NumPy kernels, "
        "check hand-written gradients. With no command: the default job on the embedded "
        "1-8-4-1 network, written to ./gradscribe-out/.",
        epilog=limits.describe(),
    )
    parser.add_argument("--version", action="version", version=f"gradscribe {__version__}")
    parser.add_argument("--out", default="gradscribe-out", help="folder for the default job")
    parser.add_argument(
        "--force", action="store_true",
        help="the default job overwrites files in --out that it did not write or that were edited",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    net_help = "a spec file (*.toml) or SIZES:ACTIVATIONS:LOSS[:LAYOUT], e.g. 1-8-4-1:relu,relu,identity:mse"
    p = sub.add_parser("derive", epilog=limits.describe(), help="write up the derivation (LaTeX, Markdown or HTML)")
    p.add_argument("net", help=net_help)
    p.add_argument("--format", choices=("tex", "md", "html"), default="tex",
                   help="tex (LaTeX), md (Markdown with KaTeX math) or html (one self-contained "
                   "page, the math as MathML)")
    p.add_argument("--lang", choices=("en", "ko"), default="en", help="language of the prose")
    p.add_argument(
        "--example", action="store_true",
        help="add a worked example (the spec's [example] table, else small seeded values)",
    )
    p.add_argument("-o", "--output", default="-", help="output file, or - for stdout")
    p.add_argument("--force", action="store_true", help="overwrite FILE even if gradscribe did not write it or it was edited since")

    p = sub.add_parser("codegen", epilog=limits.describe(), help="render the NumPy forward/backward module")
    p.add_argument("net", help=net_help)
    p.add_argument(
        "--style", choices=("fast", "textbook"), default="fast",
        help="fast: NumPy calls writing in place (default); textbook: one plain line per "
        "equation as the write-up writes it, for any array API library (NumPy, PyTorch, JAX)",
    )
    p.add_argument("-o", "--output", default="-", help="output file, or - for stdout")
    p.add_argument("--force", action="store_true", help="overwrite FILE even if gradscribe did not write it or it was edited since")

    p = sub.add_parser("verify", epilog=limits.describe(), help="prove every derived formula against sympy.diff")
    p.add_argument("net", help=net_help)
    p.add_argument("--json", action="store_true")
    p.add_argument("--max-width", type=int, default=3, help="cap widths at this (default 3)")
    p.add_argument("--batch", type=int, default=2, help="batch size N of the proof (default 2)")
    p.add_argument("--points", type=int, default=2, help="random exact points (default 2)")

    p = sub.add_parser("check", epilog=limits.describe(), help="judge hand-written gradients or a formula")
    p.add_argument("net", help=net_help)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--python", metavar="FILE:FUNC",
                      help="FUNC may be a function or Class.method (the class built from the "
                      "layer sizes)")
    what.add_argument("--formula", metavar='"dW2 = ..."')
    p.add_argument("--forward", metavar="FILE:FUNC", default=None,
                   help="for layer:... checks: the forward function paired with the backward "
                   "(default: NAME_forward of the same file)")
    p.add_argument("--batch", type=int, default=None, help="the batch size the checker draws")
    p.add_argument("--lang", choices=("en", "ko"), default="en",
                   help="language of the verdicts, diagnoses and notes")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="stop FUNC after this many seconds in all, its import included "
                   "(default 60); FUNC runs in a separate worker process")
    p.add_argument("--memory", type=int, default=4096, metavar="MB",
                   help="address space FUNC's worker may add, in megabytes (default 4096)")
    p.add_argument("--targets", choices=("soft", "onehot", "labels"), default="soft",
                   help="targets for the cross-entropies: soft distributions (default), one-hot, "
                   "or integer class labels of shape (N,)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("serve", help="a local page that derives, verifies and checks as you type")
    p.add_argument("--port", type=int, default=8000,
                   help="port on 127.0.0.1 (default 8000; 0 picks a free one)")

    p = sub.add_parser("regenerate", help="rewrite the kernels in generated/")
    p.add_argument("--check", action="store_true", help="exit 1 if generated/ is stale")
    p.add_argument("--force", action="store_true", help="also overwrite kernels edited by hand")
    p.add_argument("--dir", default=None, help="the generated/ folder (default: ./generated)")
    return parser


@functools.lru_cache(maxsize=1)
def _parser() -> argparse.ArgumentParser:
    """The parser, built once per process (building it dominates a small in-process run)."""
    return build_parser()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `gradscribe` console script; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        return _dispatch(args)
    except (UsageError, SpecError) as exc:
        _error(str(exc))
        return 2
    except Refused as exc:
        print(f"gradscribe: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `gradscribe derive NET | head`: the reader left
        _silence_stdout()
        _error("stdout: the reader closed the pipe before the output was written")
        return 2
    except OSError as exc:  # an output path that cannot be written, and the like
        where = f"{show_path(exc.filename)}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}")
        return 2
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced by something without a file
        pass


def _error(message: str) -> None:
    """The one line on stderr of an exit status 2."""
    print(f"gradscribe: error: {one_line(message)}", file=sys.stderr)


def _warnings(args) -> list[str]:
    """What the registry warns about the network's activations (e.g. step), to print once the
    command has run without an error."""
    if getattr(args, "net", None) is None:
        return []
    from ..derive import activations
    from ..derive.spec import load

    net = load(args.net)
    if not hasattr(net, "layers"):  # one layer (layer:KIND:...)
        act = net.kind.activation if net.kind.family == "activation" else None
        return [f"gradscribe: warning: {act.name}: {act.warning}"] if act and act.warning else []
    warned: dict[str, list[int]] = {}  # one line per activation, however many layers use it
    for index, layer in enumerate(net.layers, start=1):
        if layer.act.warning:
            warned.setdefault(layer.activation, []).append(index)
    lines = []
    for name, indices in warned.items():
        which = f"layer {indices[0]} uses" if len(indices) == 1 else (
            "layers " + ", ".join(map(str, indices)) + " use"
        )
        lines.append(f"gradscribe: warning: {which} {name}: {activations.get(name).warning}")
    return lines


def _dispatch(args) -> int:
    warnings = _warnings(args)
    status = _run(args)
    for line in warnings:
        print(line, file=sys.stderr)
    return status


def _run(args) -> int:
    if args.command is None:
        from .default_job import run_default

        return run_default(args.out, force=args.force)
    if args.command == "derive":
        from .output_commands import run_derive

        return run_derive(args)
    if args.command == "verify":
        from .verify_command import run_verify

        return run_verify(args)
    if args.command == "codegen":
        from .output_commands import run_codegen

        return run_codegen(args)
    if args.command == "regenerate":
        from .regenerate import run_regenerate

        return run_regenerate(args)
    if args.command == "check":
        from .check_command import run_check

        return run_check(args)
    if args.command == "serve":
        from .serve import run_serve

        return run_serve(args)
    raise UsageError(f"unknown command {args.command}")


def console() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console()
