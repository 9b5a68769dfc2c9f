"""What the linter reports (:class:`Finding`, :class:`LintReport`), its rules with their
one-line fix hints, the ``# harvest: allow CODE "why"`` suppressions, and finding the
files a path or module names."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...model.errors import UsageError

RULES: dict[str, tuple[str, str]] = {
    "DET001": ("reads the wall clock", "use ctx.now() (the time recorded in history)"),
    "DET002": ("draws random numbers", "use ctx.random() (seeded by the run id)"),
    "DET003": ("makes a uuid", "use ctx.uuid4() (seeded by the run id)"),
    "DET004": (
        "reads the environment",
        "pass it as workflow input, or read it in an activity",
    ),
    "DET005": ("sleeps outside the workflow's clock", "use await ctx.sleep(seconds)"),
    "DET006": (
        "starts a thread or task the workflow does not record",
        "use ctx.gather(...) or an activity",
    ),
    "DET007": ("does I/O", "move it into an activity"),
    "DET008": (
        "changes module-level state",
        "keep the state in the workflow function's locals",
    ),
    "DET009": (
        "iterates a set while issuing commands (set order differs between processes)",
        "iterate sorted(...) instead",
    ),
}
_ALLOW = re.compile(r"#\s*harvest:\s*allow\s+((?:[A-Z]+\d{3}[\s,]*)+)(\"[^\"]+\"|'[^']+')?")


@dataclass(frozen=True)
class Finding:
    """One finding: ``code`` (``DET001``...), where (``path``, ``line``, ``column``), in
    which workflow, what was seen and how to fix it."""

    code: str
    path: str
    line: int
    column: int
    workflow: str
    message: str
    hint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "workflow": self.workflow,
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        # a history finding (column 0) points at a run's event, not at a line of code
        where = (
            f"{self.path}, event {self.line}" if self.column == 0
            else f"{self.path}:{self.line}:{self.column}"
        )
        return f"{where}: {self.code} {self.message} (in {self.workflow}) -> {self.hint}"


@dataclass
class LintReport:
    """The findings over ``files`` (and how many were suppressed with a reason)."""

    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    suppressed: int = 0
    workflows: int = 0
    runs: int | None = None
    """set when the report is over loaded runs (the history rules) rather than code"""

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "runs": self.runs,
            "workflows": self.workflows,
            "findings": [f.to_json() for f in self.findings],
            "suppressed": self.suppressed,
        }

    @property
    def _unit(self) -> str:
        cells = self.files and all(f.startswith("<cell") for f in self.files)
        return "cell(s)" if cells else "file(s)"

    def __str__(self) -> str:
        lines = [str(f) for f in self.findings]
        tail = (
            f"{len(self.findings)} finding(s) in {self.workflows} workflow(s) of "
            f"{len(self.files)} {self._unit}"
            if self.runs is None
            else f"{len(self.findings)} finding(s) in {self.runs} loaded run(s)"
        )
        if self.suppressed:
            tail += f"; {self.suppressed} allowed with a reason"
        return "\n".join([*lines, tail])


def allowed_codes(source_lines: list[str], line: int) -> tuple[set[str], bool]:
    """The codes a ``# harvest: allow CODE "why"`` comment on ``line`` (1-based) or the
    line above it allows, and whether a comment was there without its reason."""
    codes: set[str] = set()
    unexplained = False
    for number in (line, line - 1):
        if 1 <= number <= len(source_lines):
            text = source_lines[number - 1]
            if number == line - 1 and not text.lstrip().startswith("#"):
                continue  # the line above counts only when it is a comment of its own
            found = _ALLOW.search(text)
            if found:
                if found.group(2):
                    codes |= set(re.findall(r"[A-Z]+\d{3}", found.group(1)))
                else:
                    unexplained = True
    return codes, unexplained


def python_files(targets: list[str]) -> list[Path]:
    """The ``.py`` files ``targets`` name: files, directories (recursively) or importable
    module names; :class:`UsageError` for one that is none of these."""
    found: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
        elif path.is_file():
            found.append(path)
        else:
            found += _module_files(target)
    return found


def _module_files(name: str) -> list[Path]:
    if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
        raise UsageError(f"lint: {name!r} is neither a file, a directory nor a module")
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        raise UsageError(f"lint: {name!r} is neither a file, a directory nor a module")
    origin = Path(spec.origin)  # type: ignore[arg-type]
    if spec.submodule_search_locations and origin.name == "__init__.py":
        return sorted(p for p in origin.parent.rglob("*.py") if "__pycache__" not in p.parts)
    return [origin]
