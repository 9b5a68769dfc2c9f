"""Schemathesis against the served OpenAPI document, with an admin token, over a database
holding a few runs: no server errors, every status code and body as documented, and
bad input refused (4xx)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from psycopg.conninfo import make_conninfo

import harvest_studio as hs

from .api_server import ApiServer, api_server
from .conftest import TEMPLATE, _admin

EXAMPLES = 30


@pytest.fixture(scope="module")
def served(pg_server_url: str, template_url: str) -> Iterator[ApiServer]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    url = make_conninfo(pg_server_url, dbname=name)
    try:
        with hs.connect(url) as client:  # something to find: runs by id, a schedule
            for i in range(3):
                client.start("anything", i, force=True, id=f"run-{i}")
            client.terminate("run-2", "ended")
        with api_server(url) as server:
            yield server
    finally:
        _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def api_schema(served: ApiServer) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{served.base}/api/v1/openapi.json")
    # streams never end by design; they have their own tests
    return schema.exclude(path_regex=r"/events$|/stream/")


def test_api_conforms_to_its_document(api_schema: schemathesis.BaseSchema,
                                      served: ApiServer) -> None:
    headers = {"Authorization": f"Bearer {served.tokens['admin']}"}
    failures: dict[str, str] = {}
    operations = 0
    for found in api_schema.get_all_operations():
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[
                # a filter expression or a cursor can be well-formed text yet mean nothing:
                # the document cannot say which, and the API answers 400 as it should
                schemathesis.checks.positive_data_acceptance,
            ])

        try:
            conforms()
        except Exception as exc:  # collect every operation's finding, then report them all
            failures[operation.label] = " ".join(str(exc).split())[:1500]
    assert operations >= 30
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
