"""The folders are layers: derive (mathematics) <- codegen (printers) <- check (judging) <-
gradscribe (API, command line). Drawn from the imports, no arrow runs back up, and the
mathematics imports nothing that forks, signals, selects, limits resources or loads user files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder -> its import name, in layer order (each may import only those before it)
LAYERS = [("derive", "gradscribe.derive"), ("codegen", "gradscribe.codegen"),
          ("check", "gradscribe.check"), ("gradscribe", "gradscribe")]
#: standard-library modules for processes, signals and loading code from files
SYSTEM = {"subprocess", "signal", "select", "resource", "multiprocessing", "importlib",
          "runpy", "faulthandler", "socket", "threading", "pickle"}


def _package_of(path: Path) -> str:
    """The dotted package a file installs in (pyproject's package-dir mapping)."""
    rel = path.relative_to(ROOT).with_suffix("")
    folder, *rest = rel.parts
    base = dict(LAYERS)[folder] if folder != "templates" else "gradscribe.codegen.templates"
    parts = base.split(".") + [p for p in rest[:-1]]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports (absolute names, relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package_of(path).split(".")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
                # `from . import chain` imports the module gradscribe.derive.chain
                found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return found


def _layer(module: str) -> int | None:
    """The layer `module` belongs to (the longest matching package), None outside gradscribe."""
    matches = [(len(name), index) for index, (_, name) in enumerate(LAYERS)
               if module == name or module.startswith(name + ".")]
    return max(matches)[1] if matches else None


FILES = sorted(p for folder, _ in LAYERS for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_runs_back_up(path):
    own = _layer(_package_of(path) + ".x")
    # the package root holds only the version and the lazy API hook: any layer may read it
    upward = sorted(m for m in imports_of(path) - {"gradscribe", "gradscribe.__version__"}
                    if (_layer(m) or 0) > own)
    assert not upward, f"{path.relative_to(ROOT)} imports from a later layer: {upward}"


@pytest.mark.parametrize("path", sorted((ROOT / "derive").rglob("*.py")), ids=lambda p: p.name)
def test_the_mathematics_runs_no_processes_and_loads_no_user_files(path):
    system = sorted(m for m in imports_of(path) if m.split(".")[0] in SYSTEM)
    assert not system, f"derive/{path.name} imports {system}"


def test_the_import_reader_sees_real_edges():
    """The reader itself: a known downward edge is found, so the tests above can fail."""
    judge = imports_of(ROOT / "check" / "judge.py")
    assert "gradscribe.derive.chain" in judge and "gradscribe.check.worker.runner" in judge
    assert _layer("gradscribe.check.worker.runner") == 2 and _layer("gradscribe.cli") == 3
    assert "subprocess" in imports_of(ROOT / "check" / "worker" / "runner.py")
