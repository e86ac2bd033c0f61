"""The architecture, checked: the import rules in pyproject.toml and a complexity ceiling.

``lint-imports`` (import-linter) holds the layering: the pipeline and the pure HTTP
modules import no WSGI server or webob; stores import no HTTP module; users and tokens
do not import each other. radon holds every function in ``src/`` at cyclomatic
complexity 15 or less (grade C or better).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "restauth"
MAX_COMPLEXITY = 15


def test_import_rules_hold() -> None:
    pytest.importorskip("importlinter")
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_the_import_rules_would_catch_a_pipeline_importing_webob(tmp_path: Path) -> None:
    """The rules are not vacuous: the same contract fails on a module that breaks it."""
    pytest.importorskip("importlinter")
    package = tmp_path / "probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pipeline.py").write_text("import webob\n")
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "probe"\ninclude_external_packages = true\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "no webob"\ntype = "forbidden"\n'
        'source_modules = ["probe.pipeline"]\nforbidden_modules = ["webob"]\n'
    )
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)},
    )
    assert result.returncode != 0
    assert "1 broken" in result.stdout


def test_no_function_is_too_complex() -> None:
    radon = pytest.importorskip("radon.complexity")
    too_complex = [
        f"{path.relative_to(SRC)}:{block.lineno} {block.name} ({block.complexity})"
        for path in sorted(SRC.rglob("*.py"))
        for block in radon.cc_visit(path.read_text(encoding="utf-8"))
        if block.complexity > MAX_COMPLEXITY
    ]
    assert too_complex == []
