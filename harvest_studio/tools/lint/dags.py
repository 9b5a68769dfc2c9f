"""The DAG rules (DAG001-DAG006) over ``@dag`` definitions. A DAG's graph is built when its
module is imported, so a file or module that defines one is imported (as ``harvest worker``
would) and its :class:`DagDefinition` objects are checked."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

from ...engine.dag import DagDefinition
from ...model.dag import DagSpec, NodeSpec
from ...model.definitions import DEFAULT_START_TO_CLOSE
from ...model.errors import UsageError
from ...model.retry import RetryPolicy
from .findings import Finding, allowed_codes

DAG_RULES: dict[str, tuple[str, str]] = {
    "DAG001": (
        "has no timeout of its own (the default start_to_close is 10 min)",
        "set start_to_close= to what the task needs",
    ),
    "DAG002": (
        "has no retry policy of its own (the default makes 3 attempts)",
        "set retry=hs.RetryPolicy(...) for how this task fails",
    ),
    "DAG003": ("is a map with no max_parallel: every item at once", "set max_parallel=N"),
    "DAG004": ("runs more than 100 items at once", "lower max_parallel, or use a queue cap"),
    "DAG005": (
        "has a trigger rule that can never fire: none of its upstream nodes can fail",
        "use all_done, or a rule about success",
    ),
    "DAG006": (
        "can never run: it needs an upstream node that never runs",
        "change its trigger rule or its upstream nodes",
    ),
}
MAX_PARALLEL = 100
_FAILURE_RULES = ("all_failed", "one_failed")


def defines_dags(tree: ast.Module) -> dict[str, int]:
    """The functions decorated ``@dag`` (or ``@hs.dag(...)``) and their lines."""
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = target.attr if isinstance(target, ast.Attribute) else getattr(
                    target, "id", ""
                )
                if name == "dag":
                    found[node.name] = node.lineno
    return found


def import_file(path: Path) -> ModuleType:
    """Import ``path`` under a name of its own; :class:`UsageError` if it fails."""
    name = "harvest_lint_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"lint: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UsageError(
            f"lint: importing {path} to read its DAGs failed: {type(exc).__name__}: {first}"
        ) from None
    return module


def check_dags(path: str, source_lines: list[str], lines: dict[str, int]) -> list[Finding]:
    """Import ``path`` and check each DAG it defines (``lines``: name -> def line)."""
    module = import_file(Path(path))
    dags = [
        (lines.get(value.spec.name, lines.get(getattr(value, "name", ""), 1)), value)
        for value in vars(module).values()
        if isinstance(value, DagDefinition) and value.spec is not None
    ]
    return check_dag_values(path, source_lines, dags)


def check_dag_values(
    path: str, source_lines: list[str], dags: Iterable[tuple[int, DagDefinition]]
) -> list[Finding]:
    """Check ``dags``, each with the line that defines it in ``source_lines``."""
    findings: list[Finding] = []
    for line, value in dags:
        assert value.spec is not None
        allowed, _ = allowed_codes(source_lines, line)
        for code, node, detail in _check(value.spec):
            if code in allowed:
                continue
            rule, hint = DAG_RULES[code]
            findings.append(
                Finding(code, path, line, 1, value.spec.name,
                        f"node {node} {rule}{detail}", hint)
            )
    return findings


def _check(spec: DagSpec) -> Iterator[tuple[str, str, str]]:
    by_name = {n.name: n for n in spec.nodes}
    never = _never_fires(spec, by_name)
    for node in spec.nodes:
        if node.kind in ("task", "map"):
            if not _has_timeout(node):
                yield "DAG001", node.name, ""
            if not _has_retry(node):
                yield "DAG002", node.name, ""
        if node.kind == "map":
            if node.max_parallel is None:
                yield "DAG003", node.name, ""
            elif node.max_parallel > MAX_PARALLEL:
                yield "DAG004", node.name, f" ({node.max_parallel})"
        if node.name in never:
            code = "DAG005" if node.trigger_rule in _FAILURE_RULES and not (
                set(node.upstream) & never
            ) else "DAG006"
            yield code, node.name, ""


def _has_timeout(node: NodeSpec) -> bool:
    if node.options.get("start_to_close") or node.options.get("schedule_to_close"):
        return True
    own = node.definition.options if node.definition is not None else None
    return own is not None and (
        own.start_to_close != DEFAULT_START_TO_CLOSE or own.schedule_to_close is not None
    )


def _has_retry(node: NodeSpec) -> bool:
    if node.options.get("retry") is not None or node.on_failure == "retry_forever":
        return True
    own = node.definition.options if node.definition is not None else None
    return own is not None and own.retry != RetryPolicy()


def _cannot_fail(node: NodeSpec) -> bool:
    """Gates that go on when they time out, and nodes retried for ever, never fail."""
    if node.kind in ("signal", "approval"):
        return node.timeout is None or node.on_timeout == "continue"
    return node.on_failure == "retry_forever"


def _never_fires(spec: DagSpec, by_name: dict[str, NodeSpec]) -> set[str]:
    """The nodes that can never run (a node that never runs ends skipped, as in Airflow)."""
    never: set[str] = set()

    def runs(u: NodeSpec) -> bool:
        return u.name not in never

    def can_fail(u: NodeSpec) -> bool:
        return runs(u) and not _cannot_fail(u)

    for node in spec.nodes:  # nodes come in an order where upstream nodes are first
        ups = [by_name[u] for u in node.upstream if u in by_name]
        rule = node.trigger_rule
        if not ups:
            continue
        if (
            (rule == "all_failed" and not all(can_fail(u) for u in ups))
            or (rule == "one_failed" and not any(can_fail(u) for u in ups))
            or (rule == "all_success" and not all(runs(u) for u in ups))
            or (
                rule in ("one_success", "none_failed_min_one_success")
                and not any(runs(u) for u in ups)
            )
        ):
            never.add(node.name)
    return never
