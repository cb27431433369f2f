"""The network drawing as SVG: the TikZ figure's layout (`drawing.drawing_view`) in pixels.

`svg_view(drawing)` maps the view's centimetre coordinates (y up) to SVG pixels (y down) and
spells the labels in plain text (subscripts as Unicode digits), so the template
`drawing.svg.jinja` only places circles, boxes, lines and text.
"""

from __future__ import annotations

from dataclasses import dataclass

from .drawing import DrawingView

PX = 40.0  # pixels per centimetre of the TikZ layout
MARGIN = 30.0  # pixels around the picture
RADIUS = 9.0  # a unit's circle (4.5 mm across in TikZ)
BOX_WIDTH = 46.0  # a wide layer's box
LINE = 15.0  # pixels between two lines of a caption
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Circle:
    x: str
    y: str


@dataclass(frozen=True)
class Rect:
    x: str
    y: str
    width: str
    height: str
    label: str
    label_x: str
    label_y: str


@dataclass(frozen=True)
class Line:
    x1: str
    y1: str
    x2: str
    y2: str


@dataclass(frozen=True)
class Text:
    x: str
    y: str
    text: str
    size: str = "small"


@dataclass
class SvgView:
    """Everything the SVG drawing places, in pixels."""

    width: str
    height: str
    label: str
    circles: list[Circle]
    boxes: list[Rect]
    edges: list[Line]
    arrows: list[Line]
    texts: list[Text]


def svg_view(d: DrawingView, label: str) -> SvgView:
    """`d` in SVG pixels; `label` is the picture's accessible name (the section's title)."""
    points: dict[str, tuple[float, float]] = {}
    half: dict[str, tuple[float, float]] = {}  # half width and height of what is at a node
    circles, boxes, texts = [], [], []
    for column in d.columns:
        for node in column.nodes:
            points[node.id] = (float(node.x), float(node.y))
    loss_x = float(d.loss_x)
    targets_y = float(d.targets_y)
    xs = [x for x, _ in points.values()] + [loss_x]
    ys = [y for _, y in points.values()] + [float(g.y) for g in d.gaps] + [targets_y - 0.6]
    ys += [float(c.caption_y) - 0.9 for c in d.columns]
    left, right = min(xs) - 0.6, max(xs) + 1.6
    top, bottom = max(ys) + 0.4, min(ys)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - left) * PX + MARGIN, (top - y) * PX + MARGIN

    for column in d.columns:
        for node in column.nodes:
            x, y = at(*points[node.id])
            if column.boxed:
                height = float(column.box_height) * PX
                boxes.append(Rect(_n(x - BOX_WIDTH / 2), _n(y - height / 2), _n(BOX_WIDTH),
                                  _n(height), column.box_label, _n(x), _n(y + 4)))
                half[node.id] = (BOX_WIDTH / 2, height / 2)
            else:
                circles.append(Circle(_n(x), _n(y)))
                half[node.id] = (RADIUS, RADIUS)
        cx, cy = at(float(column.x), float(column.caption_y))
        for i, line in enumerate(column.md_caption):
            texts.append(Text(_n(cx), _n(cy + 14 + i * LINE), _subscripts(line)))
    edges = []
    for gap in d.gaps:
        gx, gy = at(float(gap.x), float(gap.y))
        texts.append(Text(_n(gx), _n(gy), _subscripts(gap.md_label), "label"))
        for edge in gap.edges:
            (x1, y1), (x2, y2) = at(*points[edge.source]), at(*points[edge.target])
            edges.append(Line(_n(x1), _n(y1), _n(x2), _n(y2)))
    lx, ly = at(loss_x, 0.0)
    title = d.loss_md.split(": ", 1)[-1]
    loss_width = max(70.0, 7.0 * len(title) + 16)
    boxes.append(Rect(_n(lx - loss_width / 2), _n(ly - 22), _n(loss_width), "44", "", "0", "0"))
    texts += [Text(_n(lx), _n(ly - 4), "L", "label"), Text(_n(lx), _n(ly + 14), title)]
    arrows = []
    for edge in d.loss_edges:
        x1, y1 = at(*points[edge.source])
        arrows.append(Line(_n(x1 + half[edge.source][0]), _n(y1), _n(lx - loss_width / 2), _n(ly)))
    tx, ty = at(loss_x, targets_y)
    texts += [Text(_n(tx), _n(ty), "T", "label"), Text(_n(tx), _n(ty + 15), d.targets_label)]
    arrows.append(Line(_n(tx), _n(ty - 14), _n(lx), _n(ly + 22)))
    width = (right - left) * PX + 2 * MARGIN + max(0.0, loss_width / 2 - 1.6 * PX)
    height = (top - bottom) * PX + 2 * MARGIN
    return SvgView(_n(width), _n(height), label, circles, boxes, edges, arrows, texts)


def _subscripts(text: str) -> str:
    """'G1 → R1' as 'G₁ → R₁': the digits right after a capital letter, lowered."""
    out = []
    for i, ch in enumerate(text):
        lowered = ch.isdigit() and i > 0 and (text[i - 1].isupper() or out[-1] in "₀₁₂₃₄₅₆₇₈₉")
        out.append(ch.translate(_SUB) if lowered else ch)
    return "".join(out)


def _n(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text

