"""Shared fixtures and helpers for gradscribe's tests."""

from __future__ import annotations

import os
import shutil

import pytest

from codegen.cli import main


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
