"""The determinism rules (DET001-DET009) over the source of ``@workflow`` functions, their
nested handlers, and one hop into the module's own helper functions they call.

Names are resolved through the module's imports (``import time as t``, ``from datetime
import datetime``), so ``t.time()`` and ``datetime.now()`` are both the wall clock."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .findings import RULES, Finding, allowed_codes

CALLS: dict[str, tuple[str, ...]] = {
    "DET001": (
        "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns",
        "time.perf_counter", "time.perf_counter_ns", "datetime.datetime.now",
        "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    ),
    "DET002": ("random.*", "secrets.*", "numpy.random.*", "os.urandom"),
    "DET003": ("uuid.uuid1", "uuid.uuid4"),
    "DET004": ("os.getenv", "os.getenvb"),
    "DET005": ("time.sleep", "asyncio.sleep"),
    "DET006": (
        "threading.Thread", "threading.Timer", "asyncio.create_task", "asyncio.ensure_future",
        "asyncio.gather", "asyncio.wait", "asyncio.wait_for", "asyncio.to_thread",
        "asyncio.get_event_loop", "concurrent.futures.*", "multiprocessing.*",
    ),
    "DET007": (
        "open", "input", "print", "requests.*", "httpx.*", "aiohttp.*", "urllib.request.*",
        "socket.*", "subprocess.*", "shutil.*", "os.system", "os.remove", "os.listdir",
        "os.makedirs", "pathlib.Path", "sqlite3.*", "psycopg.*",
    ),
}
ATTRIBUTES = {"DET004": ("os.environ", "os.environb")}
MUTATORS = frozenset(
    {"append", "extend", "add", "update", "pop", "clear", "insert", "remove", "setdefault",
     "discard", "popitem", "__setitem__"}
)
COMMANDS = frozenset(
    {"execute_activity", "schedule_activity", "start_child", "execute_child", "sleep",
     "sleep_until", "side_effect", "record_marker", "wait_signal", "upsert_search_attributes",
     "continue_as_new"}
)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(
        name == p or (p.endswith(".*") and name.startswith(p[:-1])) for p in patterns
    )


class Module:
    """A parsed module: its imports, its module-level names and functions."""

    def __init__(self, source: str, path: str) -> None:
        self.path = path
        self.tree = ast.parse(source, filename=path)
        self.lines = source.splitlines()
        self.imports: dict[str, str] = {}
        self.globals: set[str] = set()
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        for node in self.tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.imports[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[node.name] = node
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                self.globals |= {t.id for t in targets if isinstance(t, ast.Name)}

    def qualified(self, node: ast.expr) -> str | None:
        """``time.time`` for ``t.time`` after ``import time as t``; None if not a name."""
        if isinstance(node, ast.Name):
            return self.imports.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def workflows(self) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                self._is_workflow_decorator(d) for d in node.decorator_list
            ):
                yield node

    def _is_workflow_decorator(self, node: ast.expr) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        name = self.qualified(target) or ""
        return name in ("workflow", "harvest_studio.workflow") or name.endswith(".workflow")


def check_module(source: str, path: str) -> tuple[list[Finding], int, int]:
    """The findings in one module's workflows, how many were allowed with a reason, and
    how many workflows it defines."""
    module = Module(source, path)
    findings: dict[tuple[str, int, int], Finding] = {}
    suppressed = 0
    count = 0
    for workflow in module.workflows():
        count += 1
        for code, node, what, where in _scan(module, workflow, workflow.name, hop=True):
            line, col = node.lineno, node.col_offset + 1
            allowed, unexplained = allowed_codes(module.lines, line)
            if code in allowed:
                suppressed += 1
                continue
            rule, hint = RULES[code]
            if unexplained:
                hint += ' (an allow comment needs its reason: # harvest: allow CODE "why")'
            findings.setdefault(
                (code, line, col),
                Finding(code, path, line, col, where, f"{rule}: {what}", hint),
            )
    return sorted(findings.values(), key=lambda f: (f.line, f.column, f.code)), suppressed, count


def _scan(
    module: Module,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    where: str,
    *,
    hop: bool,
) -> Iterator[tuple[str, ast.stmt | ast.expr, str, str]]:
    ctx = function.args.args[0].arg if function.args.args else None
    local_sets = _set_names(function)
    assigned = {
        t.id
        for n in ast.walk(function)
        if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign)
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
        if isinstance(t, ast.Name)
    }
    declared_global = {
        name for n in ast.walk(function) if isinstance(n, ast.Global) for name in n.names
    }
    recorded = _inside_side_effects(function, ctx)
    for node in ast.walk(function):
        if id(node) in recorded:
            continue  # ctx.side_effect(...) records what it computes: that is the fix
        if isinstance(node, ast.Call):
            name = module.qualified(node.func)
            if name is not None:
                for code, patterns in CALLS.items():
                    if _matches(name, patterns):
                        yield code, node, f"{name}()", where
                if hop and isinstance(node.func, ast.Name) and node.func.id in module.functions:
                    helper = module.functions[node.func.id]
                    if helper is not function:
                        yield from _scan(module, helper, f"{where} via {helper.name}()", hop=False)
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
                and isinstance(node.func.value, ast.Name)
                and _is_module_state(node.func.value.id, module, assigned, declared_global)
            ):
                yield "DET008", node, f"{node.func.value.id}.{node.func.attr}()", where
        elif isinstance(node, ast.Attribute):
            name = module.qualified(node)
            for code, patterns in ATTRIBUTES.items():
                if name is not None and _matches(name, patterns):
                    yield code, node, name, where
        elif isinstance(node, ast.Global):
            yield "DET008", node, f"global {', '.join(node.names)}", where
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                base = target.value if isinstance(target, ast.Subscript | ast.Attribute) else None
                if isinstance(base, ast.Name) and _is_module_state(
                    base.id, module, assigned, declared_global
                ):
                    yield "DET008", node, f"assignment into {base.id}", where
        elif (
            isinstance(node, ast.For | ast.AsyncFor)
            and ctx is not None
            and _is_set(node.iter, local_sets)
            and _issues_commands(node, ctx)
        ):
            yield "DET009", node, "for ... in a set", where


def _inside_side_effects(function: ast.AST, ctx: str | None) -> set[int]:
    """The nodes inside the arguments of ``ctx.side_effect(...)`` calls."""
    inside: set[int] = set()
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "side_effect"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == ctx
        ):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                inside |= {id(n) for n in ast.walk(arg)}
    return inside


def _is_module_state(
    name: str, module: Module, assigned: set[str], declared_global: set[str]
) -> bool:
    return name in module.globals and (name not in assigned or name in declared_global)


def _set_names(function: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and _is_set(node.value, set()):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _is_set(node: ast.expr, local_sets: set[str]) -> bool:
    if isinstance(node, ast.Set | ast.SetComp):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in ("set", "frozenset")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.BitAnd | ast.Sub):
        return _is_set(node.left, local_sets) or _is_set(node.right, local_sets)
    return isinstance(node, ast.Name) and node.id in local_sets


def _issues_commands(loop: ast.For | ast.AsyncFor, ctx: str) -> bool:
    for node in ast.walk(loop):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in COMMANDS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == ctx
        ):
            return True
    return False
