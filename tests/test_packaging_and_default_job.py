"""The wheel ships derive and codegen (templates inside), and the default job works."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_contains_only_the_two_packages_and_the_templates(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps",
         "-q", "-w", str(tmp_path)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("gradscribe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("gradscribe-")}
    assert top == {"derive", "codegen"}
    assert "codegen/templates/derivation.tex.jinja" in names
    assert "codegen/templates/derivation.md.jinja" in names
    assert not any(n.startswith(("generated/", "tests/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gradscribe = codegen.cli:console" in zipfile.ZipFile(wheel).read(entry).decode()


def test_default_job_writes_everything_and_summarises(tmp_path):
    result = subprocess.run(
        ["gradscribe"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "gradscribe-out"
    tex = (out / "derivation.tex").read_text()
    md = (out / "derivation.md").read_text()
    assert r"\texttt{height\_mlp}" in tex and "\\end{document}" in tex
    assert "# Back-propagation for `height_mlp`" in md
    assert "height_mlp (1-8-4-1:relu,relu,identity:mse:column)" in result.stdout
    assert "9 of 9 formulas equal sympy.diff" in result.stdout
    kernel = (out / "height_mlp.py").read_text()
    assert "def loss_and_grads(params, X, T):" in kernel
    for path in ("gradscribe-out/derivation.tex", "gradscribe-out/derivation.md",
                 "gradscribe-out/height_mlp.py"):
        assert f"wrote {path}" in result.stdout
    assert result.stderr == ""
