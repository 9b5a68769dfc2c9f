"""The run filter: ``RunFilter`` and the compiler from a parsed filter expression
(``harvest_studio.model.filters``) to a SQL condition over ``harvest.runs``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from ..model import filters


def compile_filter(node: filters.Node) -> tuple[sql.Composable, list[Any]]:
    """Turn a parsed filter into a SQL condition; every name and value is a parameter."""
    params: list[Any] = []

    def walk(n: filters.Node) -> sql.Composable:
        if isinstance(n, filters.BoolOp):
            joiner = sql.SQL(f" {n.op} ")
            return sql.SQL("({})").format(joiner.join([walk(p) for p in n.parts]))
        if isinstance(n, filters.Not):
            return sql.SQL("(NOT {})").format(walk(n.part))
        return comparison(n)

    def comparison(c: filters.Comparison) -> sql.Composable:
        if c.builtin is not None:
            column = sql.Identifier(c.builtin)
            cast = "::timestamptz" if c.builtin in ("created_at", "closed_at") else "::text"
            if c.op == "IN":
                params.append([str(v) for v in c.values if v is not None])
                return sql.SQL("{} = ANY(%s" + cast + "[])").format(column)
            if c.values[0] is None:
                return sql.SQL("{} IS NULL" if c.op == "=" else "{} IS NOT NULL").format(column)
            params.append(str(c.values[0]))
            return sql.SQL("{} " + c.op + " %s" + cast).format(column)
        if c.op in ("=", "IN"):
            alternatives = []
            for value in c.values:
                params.append(json.dumps({c.name: value}))
                alternatives.append(sql.SQL("search_attributes @> %s::jsonb"))
            return sql.SQL("({})").format(sql.SQL(" OR ").join(alternatives))
        if c.op == "!=":
            params.append(json.dumps({c.name: c.values[0]}))
            return sql.SQL("(NOT search_attributes @> %s::jsonb)")
        # ordering compares like with like: numbers with numbers, strings with strings
        value = json.dumps(c.values[0])
        params.extend([c.name, value, c.name, value])
        return sql.SQL(
            "(jsonb_typeof(search_attributes -> %s) = jsonb_typeof(%s::jsonb)"
            " AND (search_attributes -> %s) " + c.op + " %s::jsonb)"
        )

    return walk(node), params


@dataclass
class RunFilter:
    namespace: str = "default"
    workflow_type: str | None = None
    statuses: Sequence[str] = ()
    started_after: datetime | None = None
    started_before: datetime | None = None
    workflow_id: str | None = None
    blocked: bool | None = None
    query: filters.Node | None = None
