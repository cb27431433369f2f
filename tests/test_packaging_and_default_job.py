"""The wheel installs one import package, `gradscribe`, that lives beside unrelated `codegen`
and `derive` distributions; the command line starts without SymPy; the default job works."""

import base64
import hashlib
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def build_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(folder)],
        check=True, capture_output=True, cwd=folder,
    )
    (wheel,) = folder.glob("gradscribe-*.whl")
    return wheel


def fake_wheel(folder: Path, name: str) -> Path:
    """A tiny wheel of an unrelated project whose top-level import name is `name`."""
    dist = f"{name}-9.9.dist-info"
    files = {
        f"{name}/__init__.py": f"WHO = 'the unrelated {name} project'\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 9.9\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def test_wheel_holds_only_the_gradscribe_package_with_its_templates(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("gradscribe-")}
    assert top == {"gradscribe"}
    for path in ("gradscribe/__init__.py", "gradscribe/__main__.py", "gradscribe/cli/__init__.py",
                 "gradscribe/derive/chain.py", "gradscribe/codegen/kernel.py",
                 "gradscribe/codegen/templates/derivation.tex.jinja",
                 "gradscribe/codegen/templates/kernel.py.jinja"):
        assert path in names
    assert not any("/generated/" in n or "/tests/" in n for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gradscribe = gradscribe.cli:console" in zipfile.ZipFile(wheel).read(entry).decode()


def test_built_wheel_in_a_clean_venv_beside_codegen_and_derive(tmp_path):
    """Install the wheel and unrelated `codegen`/`derive` projects; all three import, and the
    console script, `python -m gradscribe` and the default job work from another folder."""
    wheel = build_wheel(tmp_path)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    py = env_dir / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + [str(fake_wheel(tmp_path, "codegen")), str(fake_wheel(tmp_path, "derive"))],
                   check=True, capture_output=True, timeout=300)
    subprocess.run(pip + [str(wheel)], check=True, capture_output=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}

    def run(*cmd):
        return subprocess.run(cmd, cwd=elsewhere, capture_output=True, text=True, timeout=300, env=env)

    probe = run(str(py), "-c", "import codegen, derive, gradscribe; "
                "print(codegen.WHO); print(derive.WHO); print(gradscribe.__version__); "
                "print(gradscribe.network('2-3-1:tanh,identity:mse').kernel().count('def backward('))")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines() == [
        "the unrelated codegen project", "the unrelated derive project", "0.1.0", "1"]
    # Each folder is a sub-package of the same name, and a wheel's module paths read like the
    # repository's (tracebacks name gradscribe/derive/chain.py, not another spelling).
    paths = run(str(py), "-c", "import gradscribe.derive.chain as a, gradscribe.codegen.kernel as b, "
                "gradscribe.check.judge as c, gradscribe.check.worker.runner as d; "
                "print('\\n'.join('/'.join(m.__file__.split('/')[-4:]) for m in (a, b, c, d)))")
    assert paths.returncode == 0, paths.stderr
    assert [p.split("gradscribe/", 1)[1] for p in paths.stdout.split()] == [
        "derive/chain.py", "codegen/kernel.py", "check/judge.py", "check/worker/runner.py"]
    helped = run(str(env_dir / "bin" / "gradscribe"), "--help")
    assert helped.returncode == 0 and "regenerate" in helped.stdout
    version = run(str(py), "-m", "gradscribe", "--version")
    assert version.returncode == 0 and version.stdout.strip() == "gradscribe 0.1.0"
    job = run(str(env_dir / "bin" / "gradscribe"))
    assert job.returncode == 0, job.stderr
    assert (elsewhere / "gradscribe-out" / "derivation.tex").is_file()


def test_help_version_and_usage_errors_start_without_sympy():
    for args, status in ((["--help"], 0), (["--version"], 0), (["derive"], 2), (["nonsense"], 2)):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "gradscribe", *args],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == status, (args, result.stderr)
        imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines()
                    if line.startswith("import time:")]
        assert "gradscribe.cli" in imported
        assert not any(name.split(".")[0] in ("sympy", "numpy", "jinja2") for name in imported), args


def test_command_modules_import_no_circle():
    """Every command module imports the error type below it, never the dispatcher."""
    folder = REPO / "gradscribe" / "cli"
    for module in folder.glob("*.py"):
        if module.name == "__init__.py":
            continue
        text = module.read_text()
        assert "from . import" not in text and "from .cli" not in text, module.name
        assert "from .. import cli" not in text, module.name


@pytest.mark.parametrize("entry", [["gradscribe"], [sys.executable, "-m", "gradscribe"]])
def test_default_job_writes_everything_and_summarises(tmp_path, entry):
    result = subprocess.run(entry, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "gradscribe-out"
    tex = (out / "derivation.tex").read_text()
    md = (out / "derivation.md").read_text()
    assert r"\texttt{height\_mlp}" in tex and "\\end{document}" in tex
    assert "# Back-propagation for `height_mlp`" in md
    # A hand-out: the drawing and the worked example (seeded numbers) are in both write-ups.
    assert "\\begin{tikzpicture}" in tex and "\\section{Worked example}" in tex
    assert "```mermaid" in md and "## Worked example" in md
    assert "height_mlp (1-8-4-1:relu,relu,identity:mse:column)" in result.stdout
    assert "9 of 9 formulas equal sympy.diff" in result.stdout
    kernel = (out / "height_mlp.py").read_text()
    assert "def loss_and_grads(params, X, T, workspace=None):" in kernel
    # The textbook style next to the write-ups: their equations, line by line, under their tags.
    textbook = (out / "height_mlp_textbook.py").read_text()
    assert "    D2 = (W3.T @ D3) * xp.astype(R2 > 0, R2.dtype)  # (D2)" in textbook
    assert r"\delta_{2} = \left(W_{3}^{\top} \delta_{3}\right) \odot \operatorname{ReLU}'\left(G_{2}\right) \tag{D2}" in tex
    for path in ("gradscribe-out/derivation.tex", "gradscribe-out/derivation.md",
                 "gradscribe-out/height_mlp.py", "gradscribe-out/height_mlp_textbook.py"):
        assert f"wrote {path}" in result.stdout
    assert result.stderr == ""
