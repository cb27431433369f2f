"""The Python API's Jupyter renderings: a derivation as Markdown and as LaTeX math."""

import gradscribe


def test_network_renders_markdown_and_latex_math():
    d = gradscribe.network("2-3-1:tanh,identity:mse")
    assert "## 계산 예제" in d.markdown(lang="ko", example=True)
    assert d._repr_markdown_() == d.markdown()
    latex = d._repr_latex_()
    assert latex.startswith("\\begin{align}\n") and latex.endswith("\n\\end{align}")
    assert "\\documentclass" not in latex and "$" not in latex
    tags = [line.rsplit("\\tag{", 1)[1].split("}")[0] for line in latex.splitlines()[1:-1]]
    assert tags == ["G1", "R1", "G2", "R2", "P", "L", "D2", "dW2", "dB2", "D1", "dW1", "dB1"]
    assert "\\usepackage{kotex}" in d.latex(lang="ko", example=True) and "계산 예제" in d.latex(lang="ko", example=True)
    assert "Worked example" not in d.markdown() and "Worked example" in d.markdown(example=True)


def test_public_names_do_not_shadow_modules():
    import importlib

    for module in ("derive", "codegen", "check", "cli"):
        assert importlib.import_module(f"gradscribe.{module}").__name__ == f"gradscribe.{module}"
        assert getattr(gradscribe, module).__name__ == f"gradscribe.{module}"
    assert not set(gradscribe.__all__) & {"derive", "codegen", "check", "cli"}
    net = gradscribe.network("2-3-1:tanh,identity:mse")
    assert net.check_formula("dW2 = D2 @ R1.T").ok and not net.check_formula("dW2 = D2 @ G1.T").ok
    assert repr(net) == "<gradscribe.Net 2-3-1:tanh,identity:mse:column>"
    assert "def backward(" in net.kernel()
