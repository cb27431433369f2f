"""Shared fixtures and helpers for gradscribe's tests."""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from gradscribe.cli import main


def pdflatex_or_fail():
    """pdflatex's path; skip without it, but fail under CI=true (CI must install it)."""
    path = shutil.which("pdflatex")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdflatex is missing under CI=true: .ci/run must install texlive")
        pytest.skip("pdflatex is not installed")
    return path


@pytest.fixture
def cli(capsys):
    """Run the command line in-process: returns (exit status, stdout, stderr)."""

    def run(*args):
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


@pytest.fixture
def pdflatex():
    """The pdflatex executable (a failure, not a skip, under CI=true when it is missing)."""
    return pdflatex_or_fail()


GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from what the code renders now",
    )


@pytest.fixture
def golden(request):
    """Compare text with tests/golden/NAME; a mismatch shows a unified diff."""
    update = request.config.getoption("--update-golden")

    def compare(name: str, text: str):
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"no golden file {path}; create it with pytest --update-golden")
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True), text.splitlines(keepends=True),
                    fromfile=f"golden/{name}", tofile="rendered now",
                )
            )
            pytest.fail(
                f"{name} differs from its golden file (if the change is intended, "
                f"run pytest --update-golden and review the diff):\n{diff}"
            )

    return compare
