"""SQL over the loaded histories: notebook values bound as parameters (``:name`` or
``{name}``, never pasted into the text), and the result as a small table object."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...model.errors import UsageError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# :name (not a :: cast) or {name}, outside quoted strings and identifiers
_PLACEHOLDER = re.compile(rf"(?<![:\w]):({_NAME})(?![:\w])|\{{({_NAME})\}}")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


class SqlError(UsageError):
    """A query DuckDB refused, or a parameter with no value."""

    code = "sql_error"


def bind(query: str, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``query`` with each ``:name``/``{name}`` turned into DuckDB's ``$name`` and the
    values it names; a name with no value raises :class:`SqlError`."""
    params: dict[str, Any] = {}

    def swap(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise SqlError(f"no value for parameter {name!r}")
        params[name] = values[name]
        return f"${name}"

    out, last = [], 0
    for quoted in _QUOTED.finditer(query):
        out.append(_PLACEHOLDER.sub(swap, query[last : quoted.start()]))
        out.append(quoted.group(0))
        last = quoted.end()
    out.append(_PLACEHOLDER.sub(swap, query[last:]))
    return "".join(out), params


@dataclass(frozen=True)
class QueryResult:
    """Rows of a query: ``columns``, ``rows`` (tuples); ``df()`` gives a pandas DataFrame.
    Shows as a table in a notebook (the first ``shown`` rows)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    shown: int = 50

    def df(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas: the ``analysis`` extra)."""
        try:
            import pandas as pd
        except ImportError:
            raise UsageError(
                "df() needs pandas: pip install 'harvest-studio[analysis]'"
            ) from None
        return pd.DataFrame(self.rows, columns=self.columns)

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": [list(r) for r in self.rows]}

    def __len__(self) -> int:
        return len(self.rows)

    def __str__(self) -> str:
        cells = [[_text(v) for v in row] for row in self.rows[: self.shown]]
        widths = [
            max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(self.columns)
        ]
        lines = ["  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
        if len(self.rows) > self.shown:
            lines.append(f"({len(self.rows)} rows, {self.shown} shown)")
        elif not self.rows:
            lines.append("(no rows)")
        return "\n".join(line.rstrip() for line in lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row) + "</tr>"
            for row in self.rows[: self.shown]
        )
        more = (
            f"<p>{len(self.rows)} rows, {self.shown} shown</p>"
            if len(self.rows) > self.shown
            else ""
        )
        return (
            f"<table class='hs-sql'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>{more}"
        )


def _text(value: Any) -> str:
    return "" if value is None else str(value)
