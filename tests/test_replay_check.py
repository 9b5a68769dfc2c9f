"""``harvest replay-check``: stored histories replayed against a module's code as it is now;
a change that would diverge is found, with its first mismatching command, and exits 1."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import harvest_studio as hs
from harvest_studio.cli import main as harvest_main

V1 = '''
import harvest_studio as hs

@hs.activity
def charge(ctx, amount):
    return amount

@hs.activity
def receipt(ctx, amount):
    return f"paid {amount}"

@hs.workflow
async def billing(ctx, amount):
    paid = await ctx.execute_activity(charge, amount)
    return await ctx.execute_activity(receipt, paid)
'''
# the same workflow with its two steps swapped: stored runs no longer replay
V2 = V1.replace(
    "    paid = await ctx.execute_activity(charge, amount)\n"
    "    return await ctx.execute_activity(receipt, paid)",
    "    note = await ctx.execute_activity(receipt, amount)\n"
    "    return await ctx.execute_activity(charge, note)",
)
# a harmless edit (a comment): still replays
V3 = V1.replace("    paid = await", "    # charge first\n    paid = await")


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[dict[str, Any]]:
    for name, text in (("billing_v1", V1), ("billing_v2", V2), ("billing_v3", V3)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    try:
        yield {n: importlib.import_module(n) for n in ("billing_v1", "billing_v2", "billing_v3")}
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("billing_v1", "billing_v2", "billing_v3"):
            sys.modules.pop(name, None)


def _cli(capsys: Any, db_url: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = harvest_main(["--database-url", db_url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_replay_check_finds_the_change_that_would_block_runs(
    client: hs.Client, start_worker: Any, db_url: str, modules: dict[str, Any], capsys: Any
) -> None:
    v1 = modules["billing_v1"]
    start_worker(workflows=[v1.billing], activities=[v1.charge, v1.receipt])
    runs = [client.start(v1.billing, n) for n in (5, 7, 9)]
    for run in runs:
        run.result(timeout=30)

    code, out, err = _cli(capsys, db_url, "replay-check", "billing_v1")
    assert code == 0, err
    assert out.strip() == "3 run(s) of billing replayed: all replay cleanly"
    assert _cli(capsys, db_url, "replay-check", "billing_v3")[0] == 0  # a comment changes nothing

    code, out, _ = _cli(capsys, db_url, "replay-check", "billing_v2")
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[-1] == "3 run(s) of billing replayed: 3 diverge"
    assert all("diverges at event 2: history has" in line for line in lines[:-1])
    assert "charge" in lines[0] and "receipt" in lines[0]

    code, out, _ = _cli(capsys, db_url, "replay-check", "billing_v2", "--sample", "1", "--json")
    shown = json.loads(out)
    assert code == 1 and shown["checked"] == 1 and len(shown["diverged"]) == 1
    assert shown["diverged"][0]["seq"] == 2

    code, out, _ = _cli(capsys, db_url, "replay-check", "billing_v2", "--since", "2099-01-01")
    assert code == 0 and out.strip() == "0 run(s) of billing replayed: all replay cleanly"
    code, _, err = _cli(capsys, db_url, "replay-check", "billing_v1", "--type", "nope")
    assert code == 2 and "defines no workflow nope" in err and err.count("\n") == 1
    code, _, err = _cli(capsys, db_url, "replay-check", "no_such_module_anywhere")
    assert code == 2 and err.count("\n") == 1


def test_exported_histories_and_the_pytest_helper(
    client: hs.Client, start_worker: Any, db_url: str, modules: dict[str, Any], capsys: Any,
    tmp_path: Path,
) -> None:
    from harvest_studio.testing import assert_replays

    v1, v2 = modules["billing_v1"], modules["billing_v2"]
    start_worker(workflows=[v1.billing], activities=[v1.charge, v1.receipt])
    for n in (3, 4):
        client.start(v1.billing, n).result(timeout=30)
    target = tmp_path / "histories"
    code, out, err = _cli(capsys, db_url, "export", "--histories", str(target), "--type", "billing")
    assert code == 0, err
    assert out.strip() == f"wrote {target}: billing 2"
    files = sorted((target / "billing").glob("*.json"))
    assert len(files) == 2 and json.loads(files[0].read_text())["history"][0]["type"] == (
        "WorkflowStarted"
    )
    # the files alone, no database: v1 replays, v2 does not
    code, out, _ = _cli(capsys, db_url, "replay-check", "billing_v1", "--histories", str(target))
    assert code == 0 and out.strip() == "2 run(s) of billing replayed: all replay cleanly"
    code, out, _ = _cli(capsys, db_url, "replay-check", "billing_v2", "--histories", str(target))
    assert code == 1 and out.strip().endswith("2 diverge")
    assert assert_replays(target, v1).checked == 2
    with pytest.raises(AssertionError, match="diverges at event 2"):
        assert_replays(target, v2)
    # bad input: one line, exit 2, nothing written
    code, _, err = _cli(capsys, db_url, "export", "--histories", str(target))
    assert code == 2 and "exists and is not an empty directory" in err
    code, _, err = _cli(capsys, db_url, "export", "--parquet", str(tmp_path / "p"), "--type", "x")
    assert code == 2 and "--type goes with --histories" in err
    assert not (tmp_path / "p").exists()
    code, _, err = _cli(capsys, db_url, "replay-check", "billing_v1", "--histories",
                        str(tmp_path / "none"))
    assert code == 2 and "no directory" in err
