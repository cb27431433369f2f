"""A drawing of the network: one view that the TikZ figure and the mermaid flowchart both place.

`drawing_view(network, messages)` lays the network out left to right: the input X, one
column per layer (a node per unit up to `MAX_NODES`, one labelled box beyond), then the
loss with the targets T feeding it. Coordinates are computed here, so the templates only
place nodes and edges.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..derive.spec import Network
from .latex_printer import activation_latex
from ..derive.spec import format_number
from .messages import loss_title

#: Units drawn one node each; wider layers are drawn as one labelled box.
MAX_NODES = 8
#: Horizontal distance between columns (at most, at least), vertical distance between nodes (cm).
X_STEP = 2.8
MIN_X_STEP = 1.7
Y_STEP = 0.75
#: Height of a box standing for a wide layer (cm).
BOX_HEIGHT = 3.0
#: Widest picture before it is scaled down to fit the text width (cm).
MAX_WIDTH = 15.0


@dataclass(frozen=True)
class Node:
    """One unit (or the box of a wide layer): an id, its TikZ position, and its label."""

    id: str
    x: str
    y: str


@dataclass(frozen=True)
class Column:
    """The input or one layer: its units as nodes (or one box) and its labels.

    `tex_caption`/`md_caption` are the lines under the column: the activation and G_l -> R_l.
    """

    id: str
    nodes: list[Node]
    boxed: bool
    box_label: str
    box_height: str
    x: str
    caption_y: str
    tex_caption: list[str]
    md_caption: list[str]


@dataclass(frozen=True)
class Edge:
    """An edge between two node ids."""

    source: str
    target: str


@dataclass(frozen=True)
class Gap:
    """The weights between two consecutive columns: its label and where to put it."""

    source: str
    target: str
    tex_label: str
    md_label: str
    x: str
    y: str
    edges: list[Edge]


@dataclass
class DrawingView:
    """Everything both drawings place."""

    scale: str
    columns: list[Column]
    gaps: list[Gap]
    loss_x: str
    loss_tex: list[str]
    loss_md: str
    loss_edges: list[Edge]
    targets_y: str
    targets_label: str


def drawing_view(network: Network, messages: dict[str, str]) -> DrawingView:
    """The layout of `network`'s drawing; `messages` is the write-up's catalogue (for the prose)."""
    sizes = network.sizes
    step = min(X_STEP, max(MIN_X_STEP, MAX_WIDTH / (len(sizes) + 0.5)))
    heights = [_height(n) for n in sizes]
    top = max(heights) / 2
    caption_y = _cm(-top - 0.1)
    columns = []
    for index, units in enumerate(sizes):
        x = index * step
        cid = "input" if index == 0 else f"layer{index}"  # ids mermaid reserves none of
        if index == 0:
            tex_caption = [messages["draw.input"], "$X$"]
            md_caption = [messages["draw.input"], "X"]
        else:
            layer = network.layers[index - 1]
            # A batch-norm layer shows its Y between G and R; dropout is named after the activation.
            bn = getattr(layer, "batch_norm", False)
            dropout = getattr(layer, "dropout", None)
            tex_steps = [f"G_{{{index}}}"] + ([f"Y_{{{index}}}"] if bn else []) + [f"R_{{{index}}}"]
            md_steps = [f"G{index}"] + ([f"Y{index}"] if bn else []) + [f"R{index}"]
            tex_kind = ("BN, " if bn else "") + f"${activation_latex(layer.activation)}$"
            md_kind = ("BN + " if bn else "") + layer.activation
            if dropout is not None:
                tex_kind += f", {messages['draw.dropout']} ${format_number(dropout)}$"
                md_kind += f" + {messages['draw.dropout']} {format_number(dropout)}"
            tex_caption = [tex_kind, "$" + r" \to ".join(tex_steps) + "$"]
            md_caption = [
                f"{messages['draw.layer']} {index}: {md_kind}",
                " → ".join(md_steps),
            ]
        boxed = units > MAX_NODES
        if boxed:
            nodes = [Node(f"{cid}_box", _cm(x), "0")]
        else:
            nodes = [
                Node(f"{cid}_{i + 1}", _cm(x), _cm(((units - 1) / 2 - i) * Y_STEP))
                for i in range(units)
            ]
        columns.append(
            Column(
                id=cid,
                nodes=nodes,
                boxed=boxed,
                box_label=messages["draw.units"].format(n=units),
                box_height=_cm(BOX_HEIGHT),
                x=_cm(x),
                caption_y=caption_y,
                tex_caption=tex_caption,
                md_caption=md_caption,
            )
        )
    gaps = []
    for index in range(1, len(sizes)):
        before, after = columns[index - 1], columns[index]
        gaps.append(
            Gap(
                source=before.id,
                target=after.id,
                tex_label=f"$W_{{{index}}}$",
                md_label=f"W{index}",
                x=_cm((index - 0.5) * step),
                y=_cm(top + 0.35),
                edges=[Edge(a.id, b.id) for a in before.nodes for b in after.nodes],
            )
        )
    loss_x = len(sizes) * step
    width = loss_x + 1.5
    title = loss_title(messages, network.loss_def)
    return DrawingView(
        scale=_number(min(1.0, MAX_WIDTH / width)),
        columns=columns,
        gaps=gaps,
        loss_x=_cm(loss_x),
        loss_tex=["$L$", title],
        loss_md=f"L: {title}",
        loss_edges=[Edge(node.id, "loss") for node in columns[-1].nodes],
        targets_y=_cm(-top - 0.2),
        targets_label=messages["draw.targets"],
    )


def _height(units: int) -> float:
    return BOX_HEIGHT if units > MAX_NODES else (units - 1) * Y_STEP + 0.6


def _cm(value: float) -> str:
    return _number(value)


def _number(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
