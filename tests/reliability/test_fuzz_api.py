"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis): whatever
a client sends, the answer is never a 500, and every error is problem+json (rule E3)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import given

from tests.conftest import World
from tests.support.apps import app_for
from tests.support.fuzzing import fuzzing
from trialhub.store.repositories import encode_cursor

SKIP = {("POST", "/v1/sandbox/clock")}  # 404 here (not a sandbox); fuzzed in test_sandbox.py


def check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400 and response.status_code != 405:
        (content_type,) = response.headers["content-type"]
        assert content_type.startswith("application/problem+json"), response.text
        body = response.json()
        assert body["status"] == response.status_code
        assert body["code"]
        assert isinstance(body["errors"], list)
    if response.status_code == 422:  # every validation error names its rule (issue 8.16)
        assert body["rule"], body
        assert all(e["rule"] for e in body["errors"]), body


SHARDS = 4  # the operations dealt into shards that pytest-xdist runs side by side


@pytest.mark.parametrize("shard", range(SHARDS))
def test_never_a_server_error(sqlite_world: World, shard: int) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app_for(sqlite_world.ctx))
    headers = sqlite_world.sales_full.headers
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [o for o in operations if (o.method.upper(), o.path) not in SKIP]
    assert len(fuzzed) >= 30  # every operation of the API is fuzzed, in one shard or another
    for operation in fuzzed[shard::SHARDS]:

        @given(case=operation.as_strategy())
        @fuzzing(max_examples=15)  # per operation, derandomized; TRIALHUB_FUZZ=thorough: 150
        def fuzz(case: Any) -> None:
            check(case.call(headers={**(case.headers or {}), **headers}))

        fuzz()


# ---- integers out of range (issue 8, item 13) -------------------------------------------

HUGE = ("99999999999999999999999", str(2**63), "-99999999999999999999999", "-1", "1e400")


def _is_integer(schema: dict[str, Any]) -> bool:
    kinds = [schema, *schema.get("anyOf", [])]
    return any(kind.get("type") == "integer" for kind in kinds)


def _integer_parameters(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if _is_integer(parameter["schema"]):
                    found.append((method.upper(), path, parameter))
    return found


def test_every_integer_parameter_is_bounded(sqlite_world: World) -> None:
    """The schema promises a range for every integer, so clients (and schemathesis) know it."""
    found = _integer_parameters(app_for(sqlite_world.ctx))
    assert len(found) >= 5  # after, limit, expiring_within_days, the deliveries' limit ...
    for method, path, parameter in found:
        kinds = [parameter["schema"], *parameter["schema"].get("anyOf", [])]
        (integer,) = [k for k in kinds if k.get("type") == "integer"]
        assert "minimum" in integer, (method, path, parameter["name"])
        assert integer.get("maximum", 2**64) <= 2**63 - 1, (method, path, parameter["name"])


def test_huge_integers_answer_422_naming_the_field(sqlite_world: World) -> None:
    """`GET /v1/events?after=99999999999999999999999` was a 500 (OverflowError, rule E3)."""
    app = app_for(sqlite_world.ctx)
    client = TestClient(app, raise_server_exceptions=False)
    for method, path, parameter in _integer_parameters(app):
        for value in HUGE:
            name = parameter["name"]
            url = re.sub(r"\{[^}]+\}", "x", path.replace("{" + name + "}", value))
            params = {name: value} if parameter["in"] == "query" else {}
            got = client.request(method, url, params=params, headers=sqlite_world.operator.headers)
            problem = got.json()
            assert got.status_code == 422, (url, params, got.text)
            assert got.headers["content-type"].startswith("application/problem+json")
            assert problem["field"] == name, problem


def test_garbage_cursors_are_a_422(sqlite_world: World) -> None:
    """A cursor is opaque, but a client can still forge one: huge numbers, naive or
    out-of-range times and wrong shapes inside it were 500s on SQLite (rule E3)."""
    client = TestClient(app_for(sqlite_world.ctx), raise_server_exceptions=False)
    forged = [
        ["2026-01-01T00:00:00+00:00", 10**30, 10**30],
        ["2026-01-01T00:00:00", "a", "b"],
        ["0001-01-01T00:00:00+01:00", "a", "b"],
        ["9999-12-31T23:59:59-05:00", "a", "b"],
        [None, None, None],
        ["2026-01-01T00:00:00+00:00", "a"],
    ]
    for values in forged:
        cursor = encode_cursor(values)
        got = client.get(
            "/v1/customers", params={"cursor": cursor}, headers=sqlite_world.sales_full.headers
        )
        assert got.status_code == 422, (values, got.text)
        assert got.json()["field"] == "cursor"
