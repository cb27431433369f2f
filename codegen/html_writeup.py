"""The write-up as one self-contained HTML5 file (contract section 10).

`html_document` turns the LaTeX write-up's view (`writeup.writeup_view`, or
`layer_writeup.layer_view` for one layer) into an `HtmlDocument`: the same sections in the
same order, every formula the same LaTeX converted to MathML (`mathml`), the prose from the
same catalogue, the drawing as SVG (`svg_drawing`) and the generated kernel as a listing. The
template `derivation.html.jinja` only places the blocks; its CSS makes the page readable on a
narrow screen and in print. Nothing is fetched: no script, font or style sheet from anywhere.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .mathml import mathml, prose
from .messages import catalogue
from .render import render
from .stamp import stamp
from .svg_drawing import SvgView, svg_view


# --------------------------------------------------------------------------- the view
@dataclass(frozen=True)
class Block:
    """One block of a section. `kind` says which fields it uses:

    - "p": `html` (a paragraph); "h3": `html` (a sub-heading); "list": `items` (HTML each)
    - "eq": `html` (a displayed `<math>`), `tag` (its equation's name, or ""), `anchor`
    - "table": `head` and `rows` (HTML cells); "figure": `svg`; "code": `text` (plain)
    """

    kind: str
    html: str = ""
    tag: str = ""
    anchor: str = ""
    items: tuple[str, ...] = ()
    head: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    svg: SvgView | None = None
    text: str = ""


@dataclass
class Section:
    anchor: str
    title: str  # HTML
    blocks: list[Block] = field(default_factory=list)


@dataclass
class HtmlDocument:
    """What `derivation.html.jinja` lays out."""

    lang: str
    title: str  # plain text, for <title>
    heading: str  # HTML
    byline: str  # plain text
    version: str
    inline: str
    digest: str
    intro: list[str]  # HTML paragraphs
    sections: list[Section]


def _eq(lhs: str, rhs: str, tag: str = "") -> Block:
    return Block("eq", html=mathml(f"{lhs} = {rhs}", block=True), tag=tag,
                 anchor=f"eq-{tag}" if tag else "")


def _split(lhs: str, formula: str, value: str, tag: str) -> Block:
    """`lhs = formula` over `= value`, aligned at the equals signs (the worked example's rows)."""
    tex = rf"\begin{{split}} {lhs} &= {formula} \\ &= {value} \end{{split}}"
    return Block("eq", html=mathml(tex, block=True), tag=tag)


def _example_rows(rows) -> list[Block]:
    blocks = []
    for r in rows:
        if r.formula and r.tag:
            blocks.append(_split(r.lhs, r.formula, r.value, r.tag))
        else:
            blocks.append(_eq(r.lhs, r.value))
    return blocks


def _shapes(m: dict[str, str], shapes) -> Block:
    return Block(
        "table",
        head=(html.escape(m["shapes.symbol"]), html.escape(m["shapes.shape"]),
              html.escape(m["shapes.meaning"])),
        rows=tuple((mathml(s.symbol), mathml(s.shape), prose(s.what)) for s in shapes),
    )


def _kernel_section(m: dict[str, str], kernel: str) -> Section:
    return Section("kernel", html.escape(m["html.kernel.title"]), [
        Block("p", html=prose(m["html.kernel.intro"])),
        Block("code", text=kernel),
    ])


def network_document(derivation, example: bool = False, lang: str = "en") -> HtmlDocument:
    """The HTML view of a network's write-up (what `writeup_view` holds, in the same order)."""
    from .kernel import render_kernel
    from .writeup import writeup_view

    v = writeup_view(derivation, example, lang)
    m = v.messages
    code = f"`{v.inline}`"
    intro = [prose(m["intro.network"].format(net=code, sizes=v.sizes, layout=v.layout_note)),
             prose(m["intro.symbols"]) + " " + prose(m["intro.tags"])]
    sections = [
        Section("drawing", html.escape(m["draw.title"]),
                [Block("figure", svg=svg_view(v.drawing, m["draw.title"]))]),
        Section("shapes", html.escape(m["shapes.title"]), [_shapes(m, v.shapes)]),
        Section("forward", html.escape(m["forward.title"]),
                [_eq(r.lhs, r.rhs, r.tag) for r in v.forward]),
        Section("loss", prose(m["loss.title"].format(title=v.loss_title)),
                [_eq(v.loss.lhs, v.loss.rhs, v.loss.tag)]),
    ]
    derivatives = []
    for a in v.derivatives:
        which = m["activations.layers" if "," in a.layers else "activations.layer"]
        derivatives.append(Block("h3", html=prose(f"{which.format(layers=a.layers)}: ${a.name}$")))
        if a.derivative:
            derivatives.append(_eq("f(z)", rf"{a.value}, \qquad f'(z) = {a.derivative}"))
        else:
            derivatives.append(_eq(f"{a.name}(z)_i", a.value))
        if a.note:
            derivatives.append(Block("p", html=prose(a.note + ".")))
    sections.append(Section("activations", html.escape(m["activations.title"]), derivatives))
    backward = [Block("p", html=prose(m["backward.intro"])),
                Block("h3", html=prose(m["backward.output"])),
                Block("p", html=prose(v.delta_note)),
                _eq(v.delta_out.lhs, v.delta_out.rhs, v.delta_out.tag)]
    for layer in v.layers:
        backward.append(Block("h3", html=prose(m["backward.layer"].format(l=layer.index))))
        backward += [_eq(r.lhs, r.rhs, r.tag) for r in layer.rows]
    sections.append(Section("backward", html.escape(m["backward.title"]), backward))
    sections.append(Section("expanded", html.escape(m["expanded.title"]),
                            [_eq(r.lhs, r.rhs) for r in v.expanded]))
    if v.example is not None:
        ex = v.example
        opening = (m["example.seeded"].format(batch=ex.batch) if ex.seeded
                   else m["example.table"].format(table="`[example]`", batch=ex.batch))
        blocks = [Block("p", html=prose(opening) + " " + prose(m["example.rounding"])),
                  Block("h3", html=prose(m["example.given"]))]
        blocks += _example_rows(ex.inputs)
        blocks.append(Block("h3", html=prose(m["example.forward"])))
        blocks += _example_rows(ex.forward)
        blocks.append(Block("h3", html=prose(m["example.loss"])))
        blocks.append(_eq(ex.loss.lhs, f"{ex.loss.formula} = {ex.loss.value}", ex.loss.tag))
        blocks.append(Block("h3", html=prose(m["example.backward"])))
        blocks += _example_rows(ex.backward)
        sections.append(Section("example", html.escape(m["example.title"]), blocks))
    sections.append(_kernel_section(m, render_kernel(derivation, "fast")))
    if v.notes:
        sections.append(Section("notes", html.escape(m["notes.title"]),
                                [Block("list", items=tuple(prose(n) for n in v.notes))]))
    return HtmlDocument(
        lang=lang, title=m["title"].format(name=v.name),
        heading=prose(m["title"].format(name=f"`{v.name}`")),
        byline=m["author"].format(version=v.version), version=v.version, inline=v.inline,
        digest=v.digest, intro=intro, sections=sections,
    )


def layer_document(derivation, example: bool = True, lang: str = "en") -> HtmlDocument:
    """The HTML view of one layer's write-up (what `layer_view` holds, in the same order)."""
    from .layer_writeup import layer_view

    v = layer_view(derivation, example, lang)
    m = v.messages
    intro = [prose(v.intro.replace("{net}", f"`{v.inline}`")),
             prose(v.symbols) + " " + prose(m["layer.tags"])]
    sections = [Section("shapes", html.escape(m["shapes.title"]), [_shapes(m, v.shapes)])]
    if v.forward:
        sections.append(Section("forward", html.escape(m["forward.title"]),
                                [_eq(r.lhs, r.rhs, r.tag) for r in v.forward]))
    if v.loss:
        sections.append(Section("loss", prose(m["layer.loss.title"].format(title=v.loss_title)),
                                [_eq(v.loss.lhs, v.loss.rhs, v.loss.tag)]))
    if v.activation:
        a = v.activation
        blocks = [_eq("f(z)", rf"{a['value']}, \qquad f'(z) = {a['derivative']}")]
        if a["note"]:
            blocks.append(Block("p", html=prose(a["note"].lstrip(", ") + ".")))
        sections.append(Section("activation", prose(f"{m['layer.activation']}: ${a['name']}$"),
                                blocks))
    sections.append(Section("backward", html.escape(m["layer.vjp.title"]),
                            [Block("p", html=prose(v.vjp_intro))]
                            + [_eq(r.lhs, r.rhs, r.tag) for r in v.backward]))
    if v.example:
        ex = v.example
        blocks = [Block("p", html=prose(v.example_intro) + " " + prose(m["example.rounding"])),
                  Block("h3", html=prose(m["example.given"]))]
        blocks += _example_rows(ex["inputs"])
        if ex["forward"]:
            blocks.append(Block("h3", html=prose(m["example.forward"])))
            blocks += _example_rows(ex["forward"])
        if ex["loss"]:
            blocks.append(Block("h3", html=prose(m["example.loss"])))
            blocks.append(_eq(ex["loss"].lhs, f"{ex['loss'].formula} = {ex['loss'].value}",
                              ex["loss"].tag))
        blocks.append(Block("h3", html=prose(m["example.backward"])))
        blocks += _example_rows(ex["backward"])
        sections.append(Section("example", html.escape(m["example.title"]), blocks))
    if v.notes:
        sections.append(Section("notes", html.escape(m["notes.title"]),
                                [Block("list", items=tuple(prose(n) for n in v.notes))]))
    return HtmlDocument(
        lang=lang, title=v.title, heading=prose(v.title), byline=m["author"].format(version=v.version),
        version=v.version, inline=v.inline, digest=v.digest, intro=intro, sections=sections,
    )


def render_html(derivation, example: bool = False, lang: str = "en") -> str:
    """A network's write-up as one HTML5 file (prose in `lang`, with the worked example when
    `example` or the spec's `[example]` table asks for it), stamped like the other formats."""
    catalogue(lang)  # an unknown language fails before any work
    return stamp(render("derivation.html.jinja", doc=network_document(derivation, example, lang)))


def render_layer_html(derivation, example: bool = True, lang: str = "en") -> str:
    """One layer's write-up (`layer:...`) as one HTML5 file."""
    catalogue(lang)
    return stamp(render("derivation.html.jinja", doc=layer_document(derivation, example, lang)))
