"""`gradscribe derive` and `gradscribe codegen`: render a network and write it out."""

from __future__ import annotations

from ..codegen.kernel import render_kernel
from ..codegen.writeup import render_writeup
from ..derive.chain import derive
from ..derive.spec import load
from ..derive.layers import LayerSpec
from .errors import UsageError
from .files import check_destination, write_output


def run_derive(args) -> int:
    """`gradscribe derive NET [--format tex|md|html] [--lang en|ko] [--example] [-o FILE] [--force]`;
    for one layer (`layer:...`) its local derivation, always with its worked example."""
    net = load(args.net)
    check_destination(args.output, force=args.force)
    if isinstance(net, LayerSpec):
        from ..codegen.layer_writeup import render_layer
        from ..derive.layers import derive_layer

        if args.format == "html":
            from ..codegen.html_writeup import render_layer_html

            text = render_layer_html(derive_layer(net), lang=args.lang)
        else:
            text = render_layer(derive_layer(net), args.format, lang=args.lang)
    elif args.format == "html":
        from ..codegen.html_writeup import render_html

        text = render_html(derive(net), example=args.example, lang=args.lang)
    else:
        text = render_writeup(derive(net), args.format, example=args.example, lang=args.lang)
    write_output(args.output, text, force=args.force)
    return 0


def run_codegen(args) -> int:
    """`gradscribe codegen NET [--style fast|textbook] [-o FILE] [--force]`: the module to
    FILE, or stdout for '-'."""
    net = load(args.net)
    if isinstance(net, LayerSpec):
        raise UsageError(f"codegen: {net.inline()} is one layer; codegen writes a network's "
                         "module (derive, verify and check take one layer)")
    check_destination(args.output, force=args.force)
    write_output(args.output, render_kernel(derive(net), args.style), force=args.force)
    return 0
