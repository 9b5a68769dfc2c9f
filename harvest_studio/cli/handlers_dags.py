"""Handlers of ``harvest dag``: show a DAG run node by node, draw a DAG or a run as SVG,
list a DAG's runs, retry a run's failed nodes, mark a node by hand."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path

from .. import commands
from ..commands.render import (
    dumps,
    render_dag_list,
    render_dag_picture,
    render_dag_retry,
    render_dag_run,
    render_dag_runs,
    render_node_mark,
)
from .common import EXIT_OK, CommandLineError, _emit, _print, _with_client


def _cmd_dag_show(args: argparse.Namespace) -> int:
    detail = asyncio.run(
        _with_client(args, lambda c: commands.dag_show(c, args.ref, items=args.items))
    )
    _emit(args, detail, render_dag_run)
    return EXIT_OK


def _output_path(text: str | None) -> Path | None:
    """Where ``-o`` writes, checked before the database is touched."""
    if text is None:
        return None
    path = Path(text)
    if path.is_dir():
        raise CommandLineError(f"dag graph: -o {text}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CommandLineError(f"dag graph: -o {text}: no directory {str(parent)!r}")
    return path


def _cmd_dag_graph(args: argparse.Namespace) -> int:
    commands.check_engine(args.engine)  # before the database is touched
    path = _output_path(args.output)
    picture = asyncio.run(
        _with_client(
            args, lambda c: commands.dag_graph(c, args.target, args.run, engine=args.engine)
        )
    )
    if path is None:
        _print(dumps(picture) if args.json else picture.svg)
        return EXIT_OK
    picture.save(path)
    _emit(args, dataclasses.replace(picture, path=str(path)), render_dag_picture)
    return EXIT_OK


def _cmd_dag_list(args: argparse.Namespace) -> int:
    listing = asyncio.run(_with_client(args, commands.dag_list))
    _emit(args, listing, render_dag_list)
    return EXIT_OK


def _cmd_dag_runs(args: argparse.Namespace) -> int:
    listing = asyncio.run(
        _with_client(args, lambda c: commands.dag_runs(c, args.dag, limit=args.limit))
    )
    _emit(args, listing, render_dag_runs)
    return EXIT_OK


def _cmd_dag_retry(args: argparse.Namespace) -> int:
    retry = asyncio.run(_with_client(args, lambda c: commands.dag_retry(c, args.ref)))
    _emit(args, retry, render_dag_retry)
    return EXIT_OK


def _cmd_dag_mark(args: argparse.Namespace) -> int:
    commands.check_mark(args.skipped, args.result)  # before the database is touched
    mark = asyncio.run(
        _with_client(
            args,
            lambda c: commands.dag_mark(
                c,
                args.ref,
                args.node,
                skipped=args.skipped,
                result=args.result,
                by=args.by,
                reason=args.reason,
            ),
        )
    )
    _emit(args, mark, render_node_mark)
    return EXIT_OK
