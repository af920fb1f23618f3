"""Names and texts people type are shown to others (lists, emails, terminals, audit log): no
control or layout characters in them (issue 8, item 7; rules E3, C1). Nothing is written."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import create_engine, text

from tests.conftest import World, new_customer_body
from trialhub.services.customers.schemas import AddOrgUser
from trialhub.services.trials.schemas import ExtendTrial

# NUL, CR, LF, TAB, ESC (terminal escapes), DEL, NEL, a right-to-left override, an isolate,
# the line and paragraph separators, and a lone surrogate (valid JSON, not valid UTF-8)
BAD = ["\x00", "\r", "\n", "\t", "\x1b[31m", "\x7f", "\x85", "\u202e", "\u2066", "\u2028"]
BAD += ["\u2029", "\ud800"]
JSON_TYPE = {"Content-Type": "application/json"}


def _events(client: TestClient, world: World) -> list[int]:
    items = client.get("/v1/events?limit=200", headers=world.operator.headers).json()["items"]
    return [e["id"] for e in items]


def _start_calling_trial(client: TestClient, world: World) -> str:
    body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=5)
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _address(name: str) -> dict[str, Any]:
    return {
        "recipient": "customer",
        "address": {
            "name": name,
            "phone": "+33 1 23 45 67 89",
            "email": "marie@acme.example",
            "street": "1 rue de la Paix",
            "city": "Paris",
            "postal_code": "75002",
            "country": "FR",
        },
        "devices": [{"model": "desk-phone-9841", "quantity": 1}],
        "poe_supported": True,
    }


def _company(value: str) -> dict[str, Any]:
    body = new_customer_body()
    body["customer"]["company_name"] = value
    return body


# who, method, path ({trial} is a started trial), body for a value, the field, its rule
TARGETS = [
    ("sales_full", "post", "/v1/trials", _company, "customer.company_name", "C1"),
    ("sales_full", "post", "/v1/trials/preview", _company, "customer.company_name", "C1"),
    ("operator", "post", "/v1/partners", lambda v: {"name": v}, "name", "E3"),
    (
        "operator",
        "post",
        "/v1/partners",
        lambda v: {"name": "T2", "tier": 2, "distributor_name": v},
        "distributor_name",
        "V1",
    ),
    (
        "partner_full",
        "post",
        "/v1/partners/{partner}/admins",
        lambda v: {"email": "n@p.example", "name": v, "roles": ["read_only"]},
        "name",
        "E3",
    ),
    ("partner_full", "post", "/v1/admins/{me}/tokens", lambda v: {"label": v}, "label", "E3"),
    (
        "operator",
        "post",
        "/v1/organizations",
        lambda v: {"name": v, "country": "FR"},
        "name",
        "E3",
    ),
    (
        "operator",
        "post",
        "/v1/organizations/{org}/admins",
        lambda v: {"email": "boss@o.example", "name": v},
        "name",
        "E3",
    ),
    (
        "sales_full",
        "post",
        "/v1/customers/{customer}/users",
        lambda v: {"email": "u@acme.example", "name": v},
        "name",
        "E3",
    ),
    ("sales_full", "post", "/v1/trials/{trial}/shipments", _address, "address.name", "D1"),
    ("sales_full", "post", "/v1/trials/{trial}/extend", lambda v: {"reason": v}, "reason", "T3"),
    (
        "partner_full",
        "post",
        "/v1/webhooks",
        lambda v: {"url": "https://h.example/x", "event_types": ["*"], "description": v},
        "description",
        "E3",
    ),
]


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "field", "rule"),
    TARGETS,
    ids=[f"{t[2]}:{t[4]}" for t in TARGETS],
)
def test_control_characters_are_refused_and_change_nothing(
    sqlite_client: TestClient,
    sqlite_world: World,
    who: str,
    method: str,
    path: str,
    body: Any,
    field: str,
    rule: str,
) -> None:
    w = sqlite_world
    trial = _start_calling_trial(sqlite_client, w)
    got = sqlite_client.get(f"/v1/trials/{trial}", headers=w.sales_full.headers).json()
    login = getattr(w, who)
    url = path.format(
        trial=trial,
        partner=w.partner_id,
        me=login.actor.admin_id,
        org=got["org_id"],
        customer=got["customer_id"],
    )
    before = _events(sqlite_client, w)
    for bad in BAD:
        if bad == "\n" and field in ("reason", "description"):
            continue  # reasons, notes and descriptions may hold line breaks (below)
        # json.dumps escapes as ASCII, so that a lone surrogate travels as valid JSON
        payload = json.dumps(body(f"Acme{bad}Corp"))
        r = sqlite_client.request(
            method, url, content=payload, headers={**login.headers, **JSON_TYPE}
        )
        assert r.status_code == 422, (repr(bad), r.text)
        problem = r.json()
        assert (problem["field"], problem["rule"]) == (field, rule), (repr(bad), problem)
        said = problem["errors"][0]["message"]
        assert ("surrogate" if bad == "\ud800" else f"U+{ord(bad[0]):04X}") in said
    assert _events(sqlite_client, w) == before


def test_reasons_may_hold_line_breaks(sqlite_client: TestClient, sqlite_world: World) -> None:
    trial = _start_calling_trial(sqlite_client, sqlite_world)
    r = sqlite_client.post(
        f"/v1/trials/{trial}/extend",
        json={"reason": "pilot went well\r\nsecond site next month"},
        headers=sqlite_world.sales_full.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["extensions"][-1]["reason"] == "pilot went well\nsecond site next month"


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Łukasiewicz",
        "O'Brien & Sons <b>",
        "\u0634\u0631\u0643\u0629\u200f\u0627\u0644\u0623\u0645\u0644",  # with an RLM
        "👩\u200d💻 Devs",
        "東京 株式会社",
    ],
)
def test_real_names_pass(name: str) -> None:
    # right-to-left marks and emoji joiners are part of real names; only controls are refused
    assert AddOrgUser(email="a@b.example", name=name).name == name


def test_the_same_types_guard_every_entry_point() -> None:
    with pytest.raises(ValidationError):
        AddOrgUser(email="a@b.example", name="Bob\x00")
    with pytest.raises(ValidationError):
        ExtendTrial(reason="lone\rreturn")
    assert ExtendTrial(reason="  padded\n  ").reason == "padded"


# ---- the command line ------------------------------------------------------------------------

SALES = "sales@demo-partner.example"


def _counts() -> tuple[int, ...]:
    engine = create_engine(os.environ["TRIALHUB_DATABASE_URL"])
    with engine.connect() as conn:
        found = tuple(
            int(conn.execute(text(f"select count(*) from {table}")).scalar_one())
            for table in ("partners", "admins", "organizations", "audit_events")
        )
    engine.dispose()
    return found


@pytest.mark.parametrize("bad", ["\x00", "\r", "\n", "\t", "\u202e"], ids=repr)
def test_the_command_line_refuses_them_too(run, bad: str) -> None:  # type: ignore[no-untyped-def]
    before = _counts()
    out = run("partner", "create", "--name", f"Evil{bad}Partner", ok=False)
    assert "name" in out
    assert "rule E3" in out
    out = run("org", "create", "--name", f"Evil{bad}Org", "--country", "FR", ok=False)
    assert "rule E3" in out
    out = run(
        "admin",
        "create",
        "--email",
        "evil@x.example",
        "--name",
        f"Evil{bad}Admin",
        "--role",
        "operator",
        ok=False,
    )
    assert "rule E3" in out
    args = ["trial", "start", "--as", SALES, "--company", f"Acme{bad}Corp"]
    args += ["--admin-email", "ann@acme.example", "--vertical", "retail", "--country", "FR"]
    args += ["--supported-location", "--service", "messaging", "--licenses", "5"]
    out = run(*args, ok=False)
    assert "company_name" in out
    assert "rule C1" in out
    assert "Traceback" not in out
    assert _counts() == before
