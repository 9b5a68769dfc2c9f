"""The shape of the code: layer contracts, module sizes, and the architecture map.

These read the source tree only (no database); they fail when a change imports upward,
adds an import circle, grows a module past the limit, or leaves docs/architecture.md
describing packages that do not exist (or not describing ones that do).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "harvest_studio"
MAX_LINES = 600


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    done = subprocess.run(
        [lint_imports, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_over_the_size_limit() -> None:
    big = {
        str(path.relative_to(ROOT)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not big, f"split these along their responsibilities: {big}"


def _packages() -> set[str]:
    return {
        str(init.parent.relative_to(PACKAGE))
        for init in PACKAGE.rglob("__init__.py")
        if init.parent != PACKAGE and "migrations" not in init.parent.parts
    }


def test_every_package_says_what_it_is_for() -> None:
    silent = [
        pkg for pkg in _packages()
        if not (PACKAGE / pkg / "__init__.py").read_text().lstrip().startswith('"""')
    ]
    assert not silent, f"give these packages a docstring: {silent}"


def test_architecture_map_matches_the_tree() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`harvest_studio/([a-z_/]+?)/`", text))
    actual = _packages()
    assert named == actual, (
        f"in the tree but not in docs/architecture.md: {sorted(actual - named)}; "
        f"named there but missing: {sorted(named - actual)}"
    )


@pytest.mark.parametrize("package", ["model", "store", "engine", "client", "tools", "commands"])
def test_lower_layers_import_without_the_notebook(package: str) -> None:
    code = (
        f"import sys, harvest_studio.{package}\n"
        "heavy = [m for m in ('IPython', 'anywidget', 'ipywidgets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
