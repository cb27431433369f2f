"""The Python API's Jupyter renderings: a derivation as Markdown and as LaTeX math."""

import gradscribe


def test_derived_renders_markdown_and_latex_math():
    d = gradscribe.derive("2-3-1:tanh,identity:mse", example=True, lang="ko")
    assert "## 계산 예제" in d._repr_markdown_()
    latex = d._repr_latex_()
    assert latex.startswith("\\begin{align}\n") and latex.endswith("\n\\end{align}")
    assert "\\documentclass" not in latex and "$" not in latex
    tags = [line.rsplit("\\tag{", 1)[1].split("}")[0] for line in latex.splitlines()[1:-1]]
    assert tags == ["G1", "R1", "G2", "R2", "P", "L", "D2", "dW2", "dB2", "D1", "dW1", "dB1"]
    assert "\\usepackage{kotex}" in d.latex() and "계산 예제" in d.latex()
    assert "Worked example" not in gradscribe.derive("2-3-1:tanh,identity:mse").markdown()
