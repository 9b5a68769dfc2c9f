"""``harvest lint``: each determinism rule has a case it finds and a case it leaves alone;
suppressions need a reason; one hop into helpers; the command line's exit codes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main
from harvest_studio.tools.lint import RULES, lint_paths, lint_source

HEADER = """
import asyncio, os, random, threading, time, uuid
from datetime import datetime
import harvest_studio as hs
CACHE = {}
SEEN = set()
"""

# code -> (a workflow body that breaks the rule, one that does the same thing right)
CASES: dict[str, tuple[str, str]] = {
    "DET001": ("started = datetime.now()", "started = ctx.now()"),
    "DET002": ("n = random.randint(1, 6)", "n = ctx.random()"),
    "DET003": ("key = uuid.uuid4()", "key = ctx.uuid4()"),
    "DET004": ("region = os.environ['REGION']", "region = args[0]"),
    "DET005": ("time.sleep(5)", "await ctx.sleep(5)"),
    "DET006": (
        "threading.Thread(target=print).start()",
        "await ctx.gather(ctx.execute_activity('a'), ctx.execute_activity('b'))",
    ),
    "DET007": ("data = open('/etc/hosts').read()", "data = await ctx.execute_activity('read')"),
    "DET008": ("CACHE['last'] = 1", "cache = {}\ncache['last'] = 1"),
    "DET009": (
        "for name in {'a', 'b'}:\n    await ctx.execute_activity(name)",
        "for name in sorted({'a', 'b'}):\n    await ctx.execute_activity(name)",
    ),
}


def workflow(body: str, decorator: str = "@hs.workflow") -> str:
    """A module with one workflow whose body is ``body`` (its lines relative to the body)."""
    return f"{HEADER}\n{decorator}\nasync def flow(ctx, *args):\n{textwrap.indent(body, '    ')}\n"


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_rule_finds_its_case_and_not_the_right_way(code: str) -> None:
    bad, good = CASES[code]
    report = lint_source(workflow(bad), "app.py")
    assert [f.code for f in report.findings] == [code], [str(f) for f in report.findings]
    finding = report.findings[0]
    assert finding.workflow == "flow" and finding.line == 10 and finding.hint == RULES[code][1]
    assert str(finding).startswith("app.py:10:") and "\n" not in str(finding)
    assert lint_source(workflow(good), "app.py").findings == []


def test_activities_and_plain_functions_may_do_anything() -> None:
    source = HEADER + textwrap.dedent("""
    @hs.activity
    def fetch(ctx):
        return open('/etc/hosts').read(), time.time(), random.random()

    def helper_never_called_by_a_workflow():
        return datetime.now()
    """)
    report = lint_source(source)
    assert report.findings == [] and report.workflows == 0


def test_aliases_helpers_handlers_and_side_effects() -> None:
    source = textwrap.dedent("""
    import time as clock
    from time import sleep
    from harvest_studio import workflow

    def stamp():
        return clock.time()

    @workflow(name="aliased")
    async def flow(ctx):
        def on_go(value):
            sleep(1)
        ctx.set_signal_handler("go", on_go)
        code = ctx.side_effect(lambda: clock.time())  # recorded: fine
        return stamp()
    """)
    found = {(f.code, f.line, f.workflow) for f in lint_source(source, "m.py").findings}
    assert found == {("DET005", 12, "flow"), ("DET001", 7, "flow via stamp()")}


def test_suppressions_need_a_reason() -> None:
    allowed = workflow('t = time.time()  # harvest: allow DET001 "only logged, never branched on"')
    report = lint_source(allowed)
    assert report.findings == [] and report.suppressed == 1
    above = workflow('# harvest: allow DET001 "logged"\nt = time.time()')
    assert lint_source(above).findings == []
    bare = lint_source(workflow("t = time.time()  # harvest: allow DET001"))
    assert [f.code for f in bare.findings] == ["DET001"]
    assert "needs its reason" in bare.findings[0].hint
    other = lint_source(workflow('t = time.time()  # harvest: allow DET002 "wrong rule"'))
    assert [f.code for f in other.findings] == ["DET001"]


def test_set_iteration_without_commands_is_fine() -> None:
    report = lint_source(workflow("total = 0\nfor x in {1, 2}:\n    total += x"))
    assert report.findings == []
    local = workflow("names = set(args)\nfor n in names:\n    await ctx.sleep(1)")
    assert [f.code for f in lint_source(local).findings] == ["DET009"]


def test_global_statement_and_mutating_calls() -> None:
    report = lint_source(workflow("global CACHE\nCACHE = {}\nSEEN.add(1)"))
    assert [(f.code, f.line) for f in report.findings] == [("DET008", 10), ("DET008", 12)]
    shadowed = lint_source(workflow("SEEN = set()\nSEEN.add(1)"))
    assert shadowed.findings == []  # a local of the same name


def _cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = harvest_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_line(tmp_path: Path, capsys: Any) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "clean.py").write_text(workflow("await ctx.sleep(1)"))
    (app / "dirty.py").write_text(workflow("time.sleep(1)"))
    code, out, _ = _cli(capsys, "lint", str(app / "clean.py"))
    assert code == 0 and out.strip() == "0 finding(s) in 1 workflow(s) of 1 file(s)"
    code, out, _ = _cli(capsys, "lint", str(app))
    assert code == 1
    assert out.splitlines()[0].startswith(f"{app / 'dirty.py'}:10:5: DET005 sleeps")
    code, out, _ = _cli(capsys, "lint", str(app), "--json")
    shown = json.loads(out)
    assert code == 1 and [f["code"] for f in shown["findings"]] == ["DET005"]
    assert len(shown["files"]) == 2 and shown["workflows"] == 2
    # a module by name: the package's own demo is clean
    assert _cli(capsys, "lint", "harvest_studio.demo_app")[0] == 0
    code, _, err = _cli(capsys, "lint", "no/such/thing.py")
    assert code == 2 and "is neither a file, a directory nor a module" in err
    (app / "broken.py").write_text("def (:\n")
    code, _, err = _cli(capsys, "lint", str(app / "broken.py"))
    assert code == 2 and err.count("\n") == 1 and "broken.py:1" in err


def test_a_real_workflow_module_with_a_violation() -> None:
    """The linter on a real, importable workflow: it runs, and the finding is real."""
    source = textwrap.dedent("""
    import datetime
    import harvest_studio as hs

    @hs.workflow
    async def nightly_report(ctx):
        if datetime.datetime.now().hour < 6:   # differs when replayed later
            await ctx.sleep(60)
        return "done"
    """)
    namespace: dict[str, Any] = {}
    exec(compile(source, "report.py", "exec"), namespace)
    assert isinstance(namespace["nightly_report"], hs.WorkflowDefinition)
    [finding] = lint_source(source, "report.py").findings
    assert (finding.code, finding.line) == ("DET001", 7)


class LintShell(InteractiveShell):
    __test__ = False


def test_the_magic_lints_the_notebook_cells() -> None:
    config = Config()
    config.HistoryAccessor.enabled = False
    shell = LintShell.instance(config=config)
    try:
        for cell in (
            "%load_ext harvest_studio",
            "import time\nimport harvest_studio as hs",
            "def helper():\n    return time.time()",
            "@hs.workflow\nasync def noted(ctx):\n    await ctx.sleep(1)\n    return helper()",
            "this is not python",
        ):
            shell.run_cell(cell, store_history=True)  # as a kernel runs cells
        result = shell.run_cell("%harvest lint")
        assert result.error_in_exec is None
        report = result.result.data
        [finding] = report.findings
        assert (finding.code, finding.path, finding.line) == ("DET001", "<cell 3>", 2)
        assert finding.workflow == "noted via helper()"
        assert "1 finding(s) in 1 workflow(s)" in result.result.text
        assert "of 5 cell(s)" in result.result.text
        shell.run_cell(
            "@hs.activity\ndef step(ctx):\n    return 1\n\n\n@hs.dag\ndef wide(d):\n"
            "    items = d.task(step, retry=hs.RetryPolicy(), start_to_close=5)\n"
            "    d.map(step, over=items, retry=hs.RetryPolicy(), start_to_close=5)",
            store_history=True,
        )  # a DAG defined in a cell: its graph is checked too (an unbounded map)
        with_dag = shell.run_cell("%harvest lint").result.data
        assert [(f.code, f.path, f.line) for f in with_dag.findings] == [
            ("DET001", "<cell 3>", 2), ("DAG003", "<cell 6>", 7)]
        assert with_dag.workflows == 2
        clean = shell.run_cell("%harvest lint harvest_studio.demo_app").result
        assert clean.data.clean
        missing = shell.run_cell("%harvest lint no_such_module_here").error_in_exec
        assert missing is not None and "neither a file" in str(missing)
    finally:
        shell.run_cell("%unload_ext harvest_studio")
        LintShell.clear_instance()


DAG_MODULE = '''
import harvest_studio as hs

@hs.activity(start_to_close="1m", retry=hs.RetryPolicy(max_attempts=2))
def careful(ctx, *args):
    return [1, 2]

@hs.activity
def casual(ctx, *args):
    return 1

@hs.dag
def {name}(d):
{body}
'''

# code -> (a DAG body that breaks the rule, one that does not)
DAG_CASES: dict[str, tuple[str, str]] = {
    "DAG001": ("d.task(casual, retry=hs.RetryPolicy(max_attempts=2))",
               "d.task(casual, retry=hs.RetryPolicy(max_attempts=2), start_to_close='5m')"),
    "DAG002": ("d.task(casual, start_to_close='5m')",
               "d.task(casual, start_to_close='5m', retry=hs.RetryPolicy(max_attempts=5))"),
    "DAG003": ("d.map(careful, over=d.task(careful))",
               "d.map(careful, over=d.task(careful), max_parallel=8)"),
    "DAG004": ("d.map(careful, over=d.task(careful), max_parallel=500)",
               "d.map(careful, over=d.task(careful), max_parallel=100)"),
    "DAG005": ("gate = d.wait_signal('go')\n"
               "d.task(careful, upstream=[gate], trigger_rule='one_failed', name='alert')",
               "gate = d.wait_signal('go', timeout=60)\n"
               "d.task(careful, upstream=[gate], trigger_rule='one_failed', name='alert')"),
    "DAG006": ("gate = d.wait_signal('go')\n"
               "d.task(careful, upstream=[gate], trigger_rule='all_failed', name='alert')\n"
               "d.task(careful, upstream=['alert'], name='after')",
               "gate = d.wait_signal('go')\n"
               "d.task(careful, upstream=[gate], trigger_rule='all_failed', name='alert')\n"
               "d.task(careful, upstream=['alert'], trigger_rule='all_done', name='after')"),
}


@pytest.mark.parametrize("code", sorted(DAG_CASES))
def test_each_dag_rule_finds_its_case_and_not_the_right_way(code: str, tmp_path: Path) -> None:
    bad, good = DAG_CASES[code]
    for variant, body in (("bad", bad), ("good", good)):
        path = tmp_path / f"{code.lower()}_{variant}.py"
        name = f"{code.lower()}_{variant}"
        path.write_text(DAG_MODULE.format(name=name, body=textwrap.indent(body, "    ")))
        report = lint_paths([str(path)])
        codes = [f.code for f in report.findings if f.code == code]
        assert codes == ([code] if variant == "bad" else []), [str(f) for f in report.findings]
        assert report.workflows == 1
        if variant == "bad":
            [finding] = [f for f in report.findings if f.code == code]
            assert finding.workflow == name and finding.line == 13


def test_a_dag_module_that_fails_to_import_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "broken_dag.py"
    path.write_text("import harvest_studio as hs\nraise RuntimeError('no config')\n"
                    "@hs.dag\ndef x(d):\n    pass\n")
    with pytest.raises(hs.UsageError, match=r"importing .* failed: RuntimeError: no config"):
        lint_paths([str(path)])
