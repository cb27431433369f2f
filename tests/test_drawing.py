"""The drawing of the network: a TikZ figure and a mermaid flowchart from one view."""

import re

from gradscribe.codegen.drawing import drawing_view
from gradscribe.codegen.messages import catalogue
from gradscribe.codegen.writeup import render_writeup
from gradscribe.derive import spec
from gradscribe.derive.chain import derive


def writeup(net, fmt):
    return render_writeup(derive(spec.load(net)), fmt)


def test_default_network_is_drawn_1_8_4_1_with_labelled_layers():
    tex = writeup("1-8-4-1:relu,relu,identity:mse", "tex")
    figure = tex[tex.index(r"\begin{tikzpicture}"):tex.index(r"\end{tikzpicture}")]
    for column, units in [("input", 1), ("layer1", 8), ("layer2", 4), ("layer3", 1)]:
        assert len(re.findall(rf"\\node\[unit\] \({column}_\d+\)", figure)) == units, column
    # Every unit of one layer is joined to every unit of the next: 8 + 32 + 4 edges.
    assert figure.count(r"\path[weights]") == 1 * 8 + 8 * 4 + 4 * 1
    for label in [r"{$W_{1}$}", r"{$W_{2}$}", r"{$W_{3}$}"]:
        assert label in figure
    assert r"{$\operatorname{ReLU}$ \\ $G_{1} \to R_{1}$}" in figure
    assert r"{$\operatorname{id}$ \\ $G_{3} \to R_{3}$}" in figure
    assert r"(loss) at (11.2,0) {$L$ \\ \footnotesize mean squared error}" in figure
    assert figure.count(r"-- (loss);") == 2  # the output unit and the targets
    assert r"\usepackage{tikz}" in tex


def test_layers_wider_than_eight_units_are_one_labelled_box():
    tex = writeup("784-128-8-10:relu,tanh,softmax:cross_entropy:row", "tex")
    assert r"(input_box) at (0,0) {\footnotesize 784 units}" in tex
    assert r"(layer1_box) at (2.8,0) {\footnotesize 128 units}" in tex
    assert len(re.findall(r"\\node\[unit\] \(layer2_\d\)", tex)) == 8
    assert "(layer3_box)" in tex and "{$L$ \\\\ \\footnotesize cross-entropy}" in tex
    # box -> 8 units -> box: one edge per unit on either side.
    assert tex.count(r"\path[weights]") == 1 + 8 + 8


def test_markdown_draws_the_same_view_as_mermaid():
    md = writeup("1-8-4-1:relu,relu,identity:mse", "md")
    chart = md[md.index("```mermaid"):md.index("```", md.index("```mermaid") + 3)]
    assert chart.startswith("```mermaid\nflowchart LR\n")
    assert '  subgraph layer1 ["layer 1: relu<br/>G1 → R1"]' in chart
    assert len(re.findall(r"^    layer1_\d+\(\(\d+\)\)$", chart, re.MULTILINE)) == 8
    assert len(re.findall(r"^    layer2_\d+\(\(\d+\)\)$", chart, re.MULTILINE)) == 4
    for edge in ["input -- W1 --> layer1", "layer1 -- W2 --> layer2", "layer2 -- W3 --> layer3",
                 "layer3 -- P --> loss", 'targets["T: targets"] --> loss']:
        assert f"  {edge}\n" in chart
    assert '  loss["L: mean squared error"]' in chart
    assert "$" not in chart  # nothing for KaTeX to trip over


def test_one_view_for_both_drawings():
    net = spec.load("3-12-2:relu,sigmoid:mse")
    view = drawing_view(net, catalogue("en"))
    assert [len(c.nodes) for c in view.columns] == [3, 1, 2]
    assert [c.boxed for c in view.columns] == [False, True, False]
    tex, md = writeup("3-12-2:relu,sigmoid:mse", "tex"), writeup("3-12-2:relu,sigmoid:mse", "md")
    for column in view.columns:
        for node in column.nodes:
            assert f"({node.id})" in tex and f"    {node.id}" in md


def test_deep_networks_are_scaled_to_the_page():
    net = spec.load("-".join(["2"] * 11) + ":" + ",".join(["tanh"] * 9) + ",softmax:cross_entropy")
    view = drawing_view(net, catalogue("en"))
    assert 0.5 < float(view.scale) < 1
    assert drawing_view(spec.default_network(), catalogue("en")).scale == "1"
