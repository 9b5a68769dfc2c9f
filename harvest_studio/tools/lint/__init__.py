"""``harvest lint``: offline checks that keep workflow code replayable (the determinism
rules DET001-DET009; docs/analysis.md lists them with their fixes)."""

from __future__ import annotations

from pathlib import Path

from ...model.errors import UsageError
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
        report.files.append(str(path))
        report.findings += one.findings
        report.suppressed += one.suppressed
        report.workflows += one.workflows
    return report


__all__ = ["RULES", "Finding", "LintReport", "lint_paths", "lint_source"]
