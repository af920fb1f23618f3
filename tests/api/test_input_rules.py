"""Every validation error names its rule and says it in words (issue 8, item 16; rule E3):
the rule travels with the field's declaration, so no request model can forget one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World

RULE = re.compile(r"^[A-Z]\d+$")
# Pydantic's own words; a person should read what the rule says instead
RAW = ("Input should", "Field required", "Extra inputs", "Value error", "validation error")


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _bad_values(spec: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    """Values that break the schema: a wrong type, then each bound overstepped."""
    schema = _resolve(spec, schema)
    options = [_resolve(spec, s) for s in schema.get("anyOf", [schema])]
    target = next((o for o in options if o.get("type") != "null"), schema)
    kind = target.get("type")
    values: list[Any] = [{"not": "this"}] if kind != "object" else ["not an object"]
    if "enum" in target or "const" in target:
        values.append("not-one-of-them")
    if kind == "integer":
        values.append("many")
        if "minimum" in target:
            values.append(target["minimum"] - 1)
        if "maximum" in target:
            values.append(target["maximum"] + 1)
    if kind == "string":
        if target.get("minLength", 0) > 0:
            values.append("")
        if "maxLength" in target:
            values.append("x" * (target["maxLength"] + 1))
    if kind == "array":
        if target.get("minItems", 0) > 0:
            values.append([])
        if "maxItems" in target:
            values.append([None] * (target["maxItems"] + 1))
    return values


def _bodies(spec: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> list[Any]:
    """A body with nothing, one with an unknown field, and one per bad value of each field,
    nested objects included."""
    schema = _resolve(spec, schema)
    out: list[Any] = [{}, {"no_such_field": 1}]
    for name, prop in schema.get("properties", {}).items():
        out += [{name: bad} for bad in _bad_values(spec, prop)]
        inner = _resolve(spec, prop)
        nested = [_resolve(spec, s) for s in inner.get("anyOf", [inner])]
        for option in nested:
            if option.get("type") == "array" and "items" in option:
                option = _resolve(spec, option["items"])
                wrap = True
            else:
                wrap = False
            if option.get("properties") and depth < 2:
                for sub in _bodies(spec, option, depth + 1):
                    out.append({name: [sub] if wrap else sub})
    return out


def test_every_invalid_field_of_every_request_names_its_rule(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    spec = sqlite_client.get("/openapi.json").json()
    headers = sqlite_world.operator.headers
    walked: set[str] = set()
    refused: set[str] = set()
    for path, methods in spec["paths"].items():
        url = re.sub(r"\{[^}]+\}", "nothing_here", path)
        for method, op in methods.items():
            attempts: list[tuple[str, Any]] = []
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                attempts += [(url, b) for b in _bodies(spec, body["schema"])]
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    for bad in _bad_values(spec, param["schema"]):
                        if not isinstance(bad, dict | list):
                            attempts.append((f"{url}?{param['name']}={bad}", None))
            if attempts:
                walked.add(f"{method} {path}")
            for target, payload in attempts:
                r = sqlite_client.request(method, target, json=payload, headers=headers)
                assert r.status_code < 500, (method, target, payload, r.text)
                if r.status_code != 422:
                    continue
                refused.add(f"{method} {path}")
                problem = r.json()
                assert RULE.match(problem["rule"] or ""), (method, target, payload, problem)
                assert problem["errors"], problem
                for e in problem["errors"]:
                    assert RULE.match(e["rule"] or ""), (method, target, payload, e)
                    assert not any(w in e["message"] for w in RAW), (method, target, e)
    assert refused == walked  # every request model and query parameter was refused
    assert len(walked) >= 25


# one case per family of endpoint: method, path, body, the field, its rule, what is said
FAMILIES = [
    pytest.param(
        "post",
        "/v1/trials/x/shipments",
        {"recipient": "customer", "devices": [{"model": "room-bar", "quantity": 6}]},
        "devices[0].quantity",
        "D1",
        "Give 1 to 5 devices of a model.",
        id="devices",
    ),
    pytest.param(
        "post", "/v1/trials", {"duration_days": "ninety"}, "duration_days", "T1", None, id="trials"
    ),
    pytest.param(
        "post",
        "/v1/trials/preview",
        {"user_licenses": "many"},
        "user_licenses",
        "S1",
        "Give a whole number of user licenses.",
        id="preview",
    ),
    pytest.param(
        "post",
        "/v1/trials/x/services",
        {"add": [{"code": "boards", "quantity": "a few"}]},
        "add[0].quantity",
        "S1",
        None,
        id="trial-services",
    ),
    pytest.param(
        "post",
        "/v1/shipments/x/returns",
        {"serial_numbers": [5]},
        "serial_numbers[0]",
        "D8",
        "Give text.",
        id="returns",
    ),
    pytest.param(
        "post", "/v1/trials/x/extend", {"reason": 42}, "reason", "T3", None, id="extensions"
    ),
    pytest.param(
        "post",
        "/v1/trials/x/device-extension-requests",
        {"requested_end": "soon"},
        "requested_end",
        "D5",
        None,
        id="device-extensions",
    ),
    pytest.param(
        "post",
        "/v1/trials/x/convert",
        {"services": [], "provisioning_email": "a@b.example"},
        "services",
        "V5",
        "Give a list of 1 to 20 items.",
        id="conversion",
    ),
    pytest.param(
        "post", "/v1/orders/x/decision", {"approve": "perhaps"}, "approve", "V1", None, id="orders"
    ),
    pytest.param(
        "post",
        "/v1/webhooks",
        {"url": "https://h.example/x", "event_types": []},
        "event_types",
        "E1",
        None,
        id="webhooks",
    ),
    pytest.param(
        "post",
        "/v1/partners/x/admins",
        {"email": "a@b.example", "name": "A", "roles": []},
        "roles",
        "P2",
        "Give a list of at least 1 item.",
        id="accounts",
    ),
    pytest.param(
        "post", "/v1/partners", {"name": "P", "tier": 3}, "tier", "V1", None, id="partners"
    ),
    pytest.param(
        "post",
        "/v1/organizations/x/subscriptions",
        {"service": "meetings", "quantity": 0},
        "quantity",
        "A1",
        "Give 1 to 100000 licenses.",
        id="organizations",
    ),
    pytest.param(
        "post", "/v1/consent/x", {"decision": "maybe"}, "decision", "K2", None, id="consent"
    ),
    pytest.param(
        "post",
        "/v1/customers/x/assignments",
        {},
        "admin_id",
        "P2",
        "This field is required.",
        id="customers",
    ),
    pytest.param("get", "/v1/customers?limit=0", None, "limit", "E3", None, id="query"),
]


@pytest.mark.parametrize(("method", "url", "body", "field", "rule", "says"), FAMILIES)
def test_each_family_names_the_field_its_rule_and_says_it(
    sqlite_client: TestClient,
    sqlite_world: World,
    method: str,
    url: str,
    body: Any,
    field: str,
    rule: str,
    says: str | None,
) -> None:
    r = sqlite_client.request(method, url, json=body, headers=sqlite_world.operator.headers)
    assert r.status_code == 422, r.text
    problem = r.json()
    found = {e["field"]: e for e in problem["errors"]}
    assert field in found, problem
    assert found[field]["rule"] == rule
    if says is not None:
        assert found[field]["message"] == says
    assert not any(w in found[field]["message"] for w in RAW)


def test_the_issue_example_reads_as_rule_d1(sqlite_client: TestClient, sqlite_world: World) -> None:
    body = {
        "recipient": "customer",
        "address": {
            "name": "Ann",
            "phone": "+33 1 23 45 67 89",
            "email": "ann@acme.example",
            "street": "1 rue de la Paix",
            "city": "Paris",
            "postal_code": "75002",
            "country": "FR",
        },
        "devices": [{"model": "room-bar", "quantity": 6}],
    }
    r = sqlite_client.post(
        "/v1/trials/x/shipments", json=body, headers=sqlite_world.sales_full.headers
    )
    assert r.status_code == 422
    assert r.json()["rule"] == "D1"
    assert r.json()["detail"] == "devices[0].quantity: Give 1 to 5 devices of a model."


def test_rules_are_in_the_openapi_schema(sqlite_client: TestClient) -> None:
    schemas = sqlite_client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["DeviceOrderLine"]["properties"]["quantity"]["x-rule"] == "D1"
    assert schemas["NewCustomer"]["properties"]["company_name"]["x-rule"] == "C1"
    assert schemas["StartTrial"]["properties"]["duration_days"]["x-rule"] == "T1"


def test_a_body_that_is_not_json_names_rule_e3(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    r = sqlite_client.post(
        "/v1/trials",
        content=b"{not json",
        headers={**sqlite_world.sales_full.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("body", "E3")
    assert r.json()["errors"][0]["message"] == "The body is not valid JSON."
