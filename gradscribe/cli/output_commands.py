"""`gradscribe derive` and `gradscribe codegen`: render a network and write it out."""

from __future__ import annotations

import sys

from ..codegen.kernel import render_kernel
from ..codegen.writeup import render_writeup
from ..mathematics.chain import derive
from ..mathematics.spec import load
from .files import write_atomic


def _emit(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        write_atomic(output, text)


def run_derive(args) -> int:
    """`gradscribe derive NET [--format tex|md] [-o FILE]`."""
    _emit(render_writeup(derive(load(args.net)), args.format), args.output)
    return 0


def run_codegen(args) -> int:
    """`gradscribe codegen NET [-o FILE]`: the module to FILE, or stdout for '-'."""
    _emit(render_kernel(derive(load(args.net))), args.output)
    return 0
