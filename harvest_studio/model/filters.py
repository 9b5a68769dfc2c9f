"""The run filter language of ``client.list(query=...)`` and ``harvest list --query``.

    customer = "acme" AND amount > 100 AND status = "RUNNING"
    (region IN ("eu", "us") OR vip = true) AND NOT workflow_type = "billing"

Names are search attributes, except the built-in ``status``, ``workflow_type``,
``workflow_id``, ``created_at`` and ``closed_at``. Values are JSON-like literals: strings in
single or double quotes, numbers, ``true``, ``false``, ``null``. Operators: ``=``, ``!=``,
``<``, ``<=``, ``>``, ``>=``, ``IN (...)``; combine with ``AND``, ``OR``, ``NOT`` and
parentheses. This module only parses; :mod:`._store` compiles the tree to SQL with every
name and value as a bound parameter.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import UsageError

BUILTIN_FIELDS = {
    "status": "status",
    "workflow_type": "workflow_type",
    "type": "workflow_type",
    "workflow_id": "workflow_id",
    "id": "workflow_id",
    "created_at": "created_at",
    "started": "created_at",
    "closed_at": "closed_at",
}
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
TIME_FIELDS = ("created_at", "closed_at")
RUN_STATUSES = (
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "TIMED_OUT",
    "CANCELLED",
    "TERMINATED",
    "CONTINUED_AS_NEW",
)
MAX_LENGTH = 4000


class FilterError(UsageError):
    """A malformed filter; ``position`` is the 0-based offset where parsing failed."""

    code = "bad_filter"

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True)
class Comparison:
    name: str
    op: str
    values: tuple[Any, ...]  # one value, or several for IN
    pos: int = 0

    @property
    def builtin(self) -> str | None:
        return BUILTIN_FIELDS.get(self.name)


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND, OR
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Comparison | BoolOp | Not

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise FilterError(f"unexpected character {text[start]!r}", start)
        kind = match.lastgroup or ""
        start = match.start(kind)
        out.append(_Token(kind, match.group(kind), start))
        pos = match.end()
    out.append(_Token("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def keyword(self, word: str) -> bool:
        if self.tok.kind == "word" and self.tok.text.upper() == word:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> _Token:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            wanted = text or kind
            found = tok.text or "end of filter"
            raise FilterError(f"expected {wanted}, found {found!r}", tok.pos)
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.expr()
        if self.tok.kind != "end":
            raise FilterError(f"unexpected {self.tok.text!r}", self.tok.pos)
        return node

    def expr(self) -> Node:
        parts = [self.term()]
        while self.keyword("OR"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else BoolOp("OR", tuple(parts))

    def term(self) -> Node:
        parts = [self.factor()]
        while self.keyword("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else BoolOp("AND", tuple(parts))

    def factor(self) -> Node:
        if self.keyword("NOT"):
            return Not(self.factor())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.i += 1
            node = self.expr()
            self.expect("punct", ")")
            return node
        return self.comparison()

    def comparison(self) -> Node:
        if self.tok.kind != "word":
            found = self.tok.text or "end of filter"
            raise FilterError(f"expected a name, found {found!r}", self.tok.pos)
        name_tok = self.expect("word")
        if name_tok.text.upper() in ("AND", "OR", "NOT", "IN"):
            raise FilterError(f"expected a name, found {name_tok.text!r}", name_tok.pos)
        if self.keyword("IN"):
            self.expect("punct", "(")
            values = [self.value()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                values.append(self.value())
            self.expect("punct", ")")
            return Comparison(name_tok.text, "IN", tuple(values), name_tok.pos)
        op = self.expect("op").text
        return Comparison(name_tok.text, op, (self.value(),), name_tok.pos)

    def value(self) -> Any:
        tok = self.tok
        self.i += 1
        if tok.kind == "string":
            body = tok.text[1:-1]
            if tok.text[0] == "'":
                body = body.replace('\\"', '"').replace("\\'", "'").replace('"', '\\"')
            try:
                return json.loads(f'"{body}"')
            except json.JSONDecodeError:
                raise FilterError("bad string literal", tok.pos) from None
        if tok.kind == "number":
            number = json.loads(tok.text)
            if isinstance(number, float) and not math.isfinite(number):
                raise FilterError(f"number out of range: {tok.text}", tok.pos)
            return number
        if tok.kind == "word" and tok.text.lower() in ("true", "false", "null"):
            return json.loads(tok.text.lower())
        raise FilterError(f"expected a value, found {tok.text or 'end of filter'!r}", tok.pos)


def parse_filter(text: str) -> Node:
    """Parse a filter; raises :class:`FilterError` (with the position) when malformed."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"filter longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not text.strip():
        raise FilterError("empty filter", 0)
    node = _Parser(text).parse()
    _check_builtins(node)
    return node


def _check_builtins(node: Node) -> None:
    """Check what the grammar cannot: built-in fields take quoted text (the time fields an
    ISO-8601 time, and no ``IN``), ``status`` a known status, ``null`` only with ``=`` /
    ``!=``."""
    if isinstance(node, BoolOp):
        for part in node.parts:
            _check_builtins(part)
        return
    if isinstance(node, Not):
        _check_builtins(node.part)
        return
    field = node.builtin
    if field is None:
        return
    where = node.pos
    if None in node.values and node.op not in ("=", "!="):
        raise FilterError(f"{node.name} {node.op} null: null works only with = and !=", where)
    if field in TIME_FIELDS:
        if node.op == "IN":
            raise FilterError(f"{node.name} cannot be used with IN; compare with < or >", where)
        for value in node.values:
            if value is not None and not _is_time(value):
                raise FilterError(
                    f"{node.name} compares with an ISO-8601 time in quotes, e.g. "
                    f'{node.name} > "2026-01-31T12:00:00+00:00"; got {json.dumps(value)}',
                    where,
                )
        return
    for value in node.values:
        if value is not None and not isinstance(value, str):
            raise FilterError(
                f'{node.name} is text: quote the value, e.g. {node.name} = "{value}"', where
            )
    if field == "status":
        for value in node.values:
            if isinstance(value, str) and value not in RUN_STATUSES:
                hint = (
                    f" (statuses are upper case: {value.upper()!r})"
                    if value.upper() in RUN_STATUSES
                    else ""
                )
                raise FilterError(
                    f"unknown status {value!r}{hint}; use one of {', '.join(RUN_STATUSES)}",
                    where,
                )


def _is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
