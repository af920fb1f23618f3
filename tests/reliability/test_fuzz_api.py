"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis): whatever
a client sends, the answer is never a 500, and every error is problem+json (rule E3)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import World
from trialhub.api.app import create_app

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


def test_never_a_server_error(sqlite_world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(sqlite_world.ctx))
    headers = sqlite_world.sales_full.headers
    seen = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        seen += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            check(case.call(headers={**(case.headers or {}), **headers}))

        fuzz()
    assert seen >= 30  # every operation of the API was fuzzed
