"""A paid customer whose subscription a partner manages is that partner's customer (issue 8,
item 17; rule A1): in its list, and a trial is added without asking for consent. Other
partners still meet it as an existing organization that must consent (C3, K1; P3)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import World, make_world
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.messaging import outbox


def _paid_customer(client: TestClient, world: World, partner_id: str) -> str:
    """Initech: two administrators (one full), a user, Meetings managed by the partner."""
    op = world.operator.headers
    org = client.post("/v1/organizations", json={"name": "Initech", "country": "US"}, headers=op)
    org_id = str(org.json()["id"])
    for admin in (
        {"email": "bill@initech.example", "name": "Bill"},
        {"email": "it@initech.example", "name": "IT", "full": False},
    ):
        assert client.post(f"/v1/organizations/{org_id}/admins", json=admin, headers=op).is_success
    user = {"email": "milton@initech.example", "name": "Milton"}
    assert client.post(f"/v1/organizations/{org_id}/users", json=user, headers=op).is_success
    sub = {"service": "meetings", "quantity": 100, "partner_id": partner_id}
    r = client.post(f"/v1/organizations/{org_id}/subscriptions", json=sub, headers=op)
    assert r.status_code == 201, r.text
    return org_id


def _listed(client: TestClient, world: World, who: str = "sales_full") -> dict[str, Any]:
    items = client.get("/v1/customers", headers=getattr(world, who).headers).json()["items"]
    return {c["org_id"]: c for c in items}


def _trial_body(**kw: Any) -> dict[str, Any]:
    return {"services": [{"code": "calling"}], "user_licenses": 5, **kw}


def test_the_managing_partner_adds_a_trial_without_consent(
    client: TestClient, world: World
) -> None:
    org_id = _paid_customer(client, world, world.partner_id)
    listed = _listed(client, world)
    assert set(listed) == {org_id}
    customer = listed[org_id]
    assert (customer["state"], customer["access"], customer["name"]) == (
        "active",
        "full",
        "Initech",
    )
    assert customer["admin_email"] == "bill@initech.example"
    # own-reach roles see the customers they provisioned or were assigned, not this one (P2)
    assert _listed(client, world, "sales") == {}
    detail = client.get(f"/v1/customers/{customer['id']}", headers=world.sales_full.headers).json()
    [sub] = detail["organization"]["subscriptions"]
    assert (sub["service"], sub["managing_partner_id"]) == ("meetings", world.partner_id)
    # the start form, given one of its administrators' email, points at adding a trial (C4, A1)
    new = {
        "company_name": "Initech",
        "admin_email": "it@initech.example",
        "business_vertical": "technology",
        "country": "US",
        "supported_location_ack": True,
    }
    preview = client.post(
        "/v1/trials/preview", json=_trial_body(customer=new), headers=world.sales_full.headers
    ).json()
    assert preview["flow"] == "add_to_customer"
    assert preview["needs_confirmation"] is False
    assert preview["existing_organization"]["customer_id"] == customer["id"]
    eligible = {s["code"]: s["eligible"] for s in preview["services"]}
    assert (eligible["meetings"], eligible["calling"]) == (False, True)  # rule S3
    r = client.post("/v1/trials", json=_trial_body(customer=new), headers=world.sales_full.headers)
    assert (r.status_code, r.json()["code"]) == (409, "already_a_customer")
    r = client.post(
        "/v1/trials",
        json=_trial_body(customer_id=customer["id"]),
        headers=world.sales_full.headers,
    )
    assert r.status_code == 201, r.text
    trial = r.json()
    assert (trial["kind"], trial["status"], trial["consent_deadline"]) == ("added", "active", None)
    messages = outbox.list_messages(world.ctx, SYSTEM_OPERATOR)
    started = {m.recipient for m in messages if m.template == "trial_started"}
    assert started == {"bill@initech.example", "it@initech.example"}  # every admin (A1)
    assert not [m for m in messages if m.template.startswith("consent")]
    actions = [
        e["action"]
        for e in client.get("/v1/events?limit=200", headers=world.sales_full.headers).json()[
            "items"
        ]
        if e["org_id"] == org_id
    ]
    assert actions[:1] == ["customer.added"]


def test_another_partner_still_needs_consent_and_sees_nothing(
    client: TestClient, world: World
) -> None:  # rules P3, C3, K1
    other = make_world(world.ctx, name="Other Partner")
    org_id = _paid_customer(client, world, other.partner_id)
    assert _listed(client, world) == {}
    managed = _listed(client, other)[org_id]
    r = client.get(f"/v1/customers/{managed['id']}", headers=world.sales_full.headers)
    assert r.status_code == 404
    assert "Initech" not in r.text
    new = {
        "company_name": "Initech",
        "admin_email": "bill@initech.example",
        "business_vertical": "technology",
        "country": "US",
        "supported_location_ack": True,
    }
    preview = client.post(
        "/v1/trials/preview", json=_trial_body(customer=new), headers=world.sales_full.headers
    ).json()
    assert (preview["flow"], preview["needs_confirmation"]) == ("existing_customer", True)
    r = client.post(
        "/v1/trials",
        json=_trial_body(customer=new, confirm_existing_org_id=org_id),
        headers=world.sales_full.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending_consent"
    # the managing partner's entry is its own: the request changes nothing there
    assert _listed(client, other)[org_id]["state"] == "active"
    assert _listed(client, world)[org_id]["state"] == "pending"


def test_a_removed_entry_comes_back_when_the_partner_manages_a_service(
    client: TestClient, world: World
) -> None:  # rules K6, A1
    op = world.operator.headers
    org_id = _paid_customer(client, world, make_world(world.ctx, name="Other").partner_id)
    new = {
        "company_name": "Initech",
        "admin_email": "bill@initech.example",
        "business_vertical": "technology",
        "country": "US",
        "supported_location_ack": True,
    }
    trial = client.post(
        "/v1/trials",
        json=_trial_body(customer=new, confirm_existing_org_id=org_id),
        headers=world.sales_full.headers,
    ).json()
    cancel = client.post(f"/v1/trials/{trial['id']}/cancel", headers=world.sales_full.headers)
    assert cancel.status_code == 200
    assert _listed(client, world) == {}  # rule K5: the customer left the list
    sub = {"service": "messaging", "partner_id": world.partner_id}
    assert client.post(f"/v1/organizations/{org_id}/subscriptions", json=sub, headers=op).is_success
    back = _listed(client, world)[org_id]
    assert (back["id"], back["state"], back["access"]) == (trial["customer_id"], "active", "full")
