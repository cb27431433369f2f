"""The Markdown write-ups' math renders in KaTeX (the real library, run with node)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from gradscribe.codegen.writeup import render_writeup
from gradscribe.derive import activations, spec
from gradscribe.derive.chain import derive

HERE = Path(__file__).parent
KATEX_DIRS = [
    Path(os.environ.get("GRADSCRIBE_KATEX", "/nonexistent")),
    HERE.parent / ".ci" / "node" / "node_modules" / "katex",
]


@pytest.fixture(scope="module")
def katex():
    node = shutil.which("node")
    found = next((d for d in KATEX_DIRS if (d / "package.json").is_file()), None)
    if node is None or found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and KaTeX are missing under CI=true: .ci/run must install them")
        pytest.skip("node or KaTeX not installed (npm install --prefix .ci/node katex)")
    return node, str(found)


def math_snippets(md: str):
    """Every $$...$$ display block and $...$ inline piece of a Markdown text."""
    snippets = [{"tex": m.strip(), "display": True} for m in re.findall(r"\$\$(.*?)\$\$", md, re.DOTALL)]
    rest = re.sub(r"\$\$.*?\$\$", "", md, flags=re.DOTALL)
    snippets += [{"tex": m, "display": False} for m in re.findall(r"\$([^$\n]+)\$", rest)]
    return snippets


def every_activation_net():
    names = [a.name for a in activations.ACTIVATIONS.values() if a.elementwise]
    sizes = "-".join(["2"] * (len(names) + 2))
    acts = ",".join(n + ("@0.3" if activations.get(n).takes_alpha else "") for n in names)
    return f"{sizes}:{acts},softmax:cross_entropy:row"


@pytest.mark.parametrize(
    "net",
    [
        "1-8-4-1:relu,relu,identity:mse",
        every_activation_net(),
        "3-4-2:elu,sigmoid:binary_cross_entropy",
        "3-4-2:tanh,softplus:half_sse:row",
        "3-4-2:relu,identity:sse",
        "3-4-3:silu,softmax:cross_entropy@sum:row",
        # summed binary cross-entropy with a layer without bias (spec files only)
        'name = "n"\ninputs = 3\nloss = "binary_cross_entropy"\nreduction = "sum"\n'
        '[[layer]]\nunits = 4\nactivation = "elu"\nbias = false\n'
        '[[layer]]\nunits = 2\nactivation = "sigmoid"\n',
        # contract section 7: batch norm, dropout and both penalties, both layouts
        "3-4-2:bn+relu+dropout@0.5,softmax:cross_entropy+wd@1e-4:row",
        "3-4-3-2:bn@1e-7+tanh+dropout@0.25,elu+dropout@0.5,bn+sigmoid:binary_cross_entropy+l2@0.01",
    ],
)
def test_markdown_math_renders_in_katex(katex, net):
    node, module = katex
    network = spec.parse_toml(net) if "\n" in net else spec.load(net)
    derivation = derive(network)
    md = render_writeup(derivation, "md", example=True)
    snippets = math_snippets(md) + math_snippets(render_writeup(derivation, "md", lang="ko"))
    assert len(snippets) > 20
    result = subprocess.run(
        [node, str(HERE / "katex" / "render.js"), module],
        input=json.dumps(snippets), capture_output=True, text=True, timeout=60, check=True,
    )
    assert json.loads(result.stdout) == []


def test_the_checker_catches_bad_math(katex):
    node, module = katex
    bad = [{"tex": r"\frac{1}{", "display": True}, {"tex": r"\label{x} x", "display": True}]
    result = subprocess.run(
        [node, str(HERE / "katex" / "render.js"), module],
        input=json.dumps(bad), capture_output=True, text=True, timeout=60, check=True,
    )
    assert len(json.loads(result.stdout)) == 2
