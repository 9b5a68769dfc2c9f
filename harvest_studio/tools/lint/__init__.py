"""``harvest lint``: offline checks that keep workflow code replayable (the determinism
rules DET001-DET009) and DAGs sound (DAG001-DAG006); docs/analysis.md lists them."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...engine.dag import DagDefinition
from ...model.errors import UsageError
from .dags import check_dag_values, check_dags, defines_dags
from .determinism import check_module
from .findings import RULES, Finding, LintReport, python_files


def lint_source(source: str, path: str = "<cell>") -> LintReport:
    """Lint one module's source text."""
    report = LintReport(files=[path])
    try:
        findings, suppressed, workflows = check_module(source, path)
    except SyntaxError as exc:
        raise UsageError(f"lint: {path}:{exc.lineno}: {exc.msg}") from None
    report.findings, report.suppressed, report.workflows = findings, suppressed, workflows
    return report


def lint_paths(targets: list[str]) -> LintReport:
    """Lint the files, directories (recursively) and modules named in ``targets``."""
    if not targets:
        raise UsageError("lint: give at least one file, directory or module")
    report = LintReport()
    for path in python_files(targets):
        try:
            source = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"lint: cannot read {path}: {exc}") from None
        one = lint_source(source, str(path))
        dag_lines = defines_dags(ast.parse(source))
        if dag_lines:  # a DAG's graph exists once its module is imported
            one.findings += check_dags(str(path), source.splitlines(), dag_lines)
            one.workflows += len(dag_lines)
        report.files.append(str(path))
        report.findings += one.findings
        report.suppressed += one.suppressed
        report.workflows += one.workflows
    return report


def lint_cells(cells: list[str], namespace: Mapping[str, Any] | None = None) -> LintReport:
    """Lint a notebook's executed cells as one module (imports, helpers and module-level
    names of any cell count for the others); findings say ``<cell N>`` and the line in it.
    Cells that do not parse are left out (they did not define anything). The DAGs the
    cells define are checked too, as the kernel's ``namespace`` holds them."""
    kept: list[tuple[int, str]] = []
    for number, cell in enumerate(cells):
        try:
            ast.parse(cell)
        except SyntaxError:
            continue
        if cell.strip():
            kept.append((number, cell))
    source_lines: list[str] = []
    origin: list[tuple[int, int]] = []  # line of the joined source -> (cell, line in cell)
    for number, cell in kept:
        for i, line in enumerate(cell.splitlines(), 1):
            source_lines.append(line)
            origin.append((number, i))
    joined = "\n".join(source_lines) + "\n"
    report = lint_source(joined, "<cells>")
    dag_lines = defines_dags(ast.parse(joined))
    if dag_lines and namespace is not None:
        dags = [(dag_lines[name], value) for name, value in namespace.items()
                if name in dag_lines and isinstance(value, DagDefinition)
                and value.spec is not None]
        report.findings += check_dag_values("<cells>", source_lines, dags)
        report.workflows += len(dags)
    report.files = [f"<cell {n}>" for n, _ in kept]
    report.findings = [
        dataclasses.replace(
            f, path=f"<cell {origin[f.line - 1][0]}>", line=origin[f.line - 1][1]
        )
        for f in report.findings
    ]
    return report


__all__ = ["RULES", "Finding", "LintReport", "lint_cells", "lint_paths", "lint_source"]
