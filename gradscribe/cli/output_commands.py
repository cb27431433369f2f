"""`gradscribe derive` and `gradscribe codegen`: render a network and write it out."""

from __future__ import annotations

from ..codegen.kernel import render_kernel
from ..codegen.writeup import render_writeup
from ..derive.chain import derive
from ..derive.spec import load
from .files import check_destination, write_output


def run_derive(args) -> int:
    """`gradscribe derive NET [--format tex|md] [--lang en|ko] [--example] [-o FILE] [--force]`."""
    net = load(args.net)
    check_destination(args.output, force=args.force)
    text = render_writeup(derive(net), args.format, example=args.example, lang=args.lang)
    write_output(args.output, text, force=args.force)
    return 0


def run_codegen(args) -> int:
    """`gradscribe codegen NET [-o FILE] [--force]`: the module to FILE, or stdout for '-'."""
    net = load(args.net)
    check_destination(args.output, force=args.force)
    write_output(args.output, render_kernel(derive(net)), force=args.force)
    return 0
