"""Korean write-ups (`--lang ko`): every sentence from the Korean catalogue, the math unchanged."""

import re
import shutil
import subprocess

import pytest
from gradscribe.codegen.messages import catalogue
from gradscribe.codegen.writeup import render_writeup
from gradscribe.derive import activations, losses, spec
from gradscribe.derive.chain import derive

HANGUL = re.compile(r"[\uac00-\ud7a3]")
#: Latin words a Korean write-up keeps: names of code, tools and activations, and the spec's key.
KEPT = {"NumPy", "gradscribe", "example", *activations.ACTIVATIONS}


def writeup(net, fmt, lang="ko", example=True):
    return render_writeup(derive(spec.load(net)), fmt, example=example, lang=lang)


def prose(md: str) -> str:
    """The Markdown's text with its math, code spans, comments and tags removed."""
    md = re.sub(r"<!--.*?-->", "", md, flags=re.DOTALL)
    md = re.sub(r"\$\$.*?\$\$", "", md, flags=re.DOTALL)
    md = re.sub(r"\$[^$\n]+\$", "", md)
    md = re.sub(r"`[^`\n]+`", "", md)
    md = re.sub(r"<br/>|\bflowchart LR\b|\bsubgraph\b|\bend\b|```(mermaid)?", " ", md)
    return re.sub(r"\b(input|layer\d+|loss|targets)(_\d+|_box)?\b", " ", md)  # mermaid ids


def test_catalogues_have_the_same_keys():
    en, ko = catalogue("en"), catalogue("ko")
    optional = {k for k in ko if k.startswith(("loss_name.", "warning."))}
    assert set(ko) - optional == set(en)
    # Every registered loss and activation warning has its Korean text.
    for name in losses.LOSSES:
        assert HANGUL.search(ko[f"loss_name.{name}"]), name
    for act in activations.ACTIVATIONS.values():
        if act.warning:
            assert HANGUL.search(ko[f"warning.{act.name}"]), act.name
    # Every Korean sentence is Korean, and its math is the English one's.
    for key, text in ko.items():
        assert HANGUL.search(text) or not re.search("[A-Za-z]", text), key
        if key in en:
            assert re.findall(r"\$[^$]+\$", text) == re.findall(r"\$[^$]+\$", en[key]), key


@pytest.mark.parametrize(
    "net",
    [
        "1-8-4-1:relu,relu,identity:mse",
        "3-4-2:leaky_relu@0.2,softmax:cross_entropy:row",
        "2-3-3-1:elu,silu,sigmoid:binary_cross_entropy",
        "2-3-1:step,identity:half_sse",
    ],
)
def test_every_sentence_is_korean_and_the_math_is_unchanged(net):
    ko, en = writeup(net, "md"), writeup(net, "md", lang="en")
    leftover = re.findall(r"[A-Za-z_]{2,}", prose(ko))
    assert [w for w in leftover if w not in KEPT] == []
    assert "순방향 계산" in ko and "역방향 계산" in ko and "계산 예제" in ko
    # The same display math, in the same order.
    assert re.findall(r"\$\$.*?\$\$", ko, re.DOTALL) == re.findall(r"\$\$.*?\$\$", en, re.DOTALL)


def test_english_is_the_default_and_korean_loads_kotex():
    net = derive(spec.default_network())
    assert render_writeup(net, "tex") == render_writeup(net, "tex", lang="en")
    assert r"\usepackage{kotex}" not in render_writeup(net, "tex")
    assert r"\usepackage{kotex}" in render_writeup(net, "tex", lang="ko")


def test_cli_lang(cli):
    status, out, err = cli("derive", "2-2:sigmoid:mse", "--lang", "ko", "--format", "md")
    assert status == 0 and out.startswith("<!--") and "# `net`의 역전파" in out
    status, out, err = cli("derive", "2-2:sigmoid:mse", "--lang", "fr")
    assert status == 2 and "--lang" in err and err.count("\n") == 1


def test_korean_pdf_compiles_and_shows_hangul(pdflatex, tmp_path):
    from test_writeup import compile_tex

    log = compile_tex(pdflatex, tmp_path, writeup("1-8-4-1:relu,relu,identity:mse", "tex"))
    assert "Overfull \\hbox" not in log
    assert "Missing character" not in log
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (poppler-utils) is missing"
    text = subprocess.run(
        [pdftotext, str(tmp_path / "doc.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    for words in ["역전파", "순방향 계산", "역방향 계산", "계산 예제", "평균 제곱 오차"]:
        assert words in text.replace("\n", " "), words
