"""Device shipments through the API and the worker: order (D1-D3, D9), ship (D4, D5), remind
and flag overdue at exact instants (D7, T10), return with matching serials (D8)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Login, World, make_admin, make_world, new_customer_body
from tests.support.factories import dispatch_body, order_body
from trialhub.clock import MovableClock
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.store.repositories import Scope

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def start_calling_trial(client: TestClient, who: Login, **kw: Any) -> dict[str, Any]:
    body = new_customer_body(
        services=[{"code": "calling"}], meetings=None, user_licenses=5, duration_days=90, **kw
    )
    r = client.post("/v1/trials", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def outbox(ctx: Context, trial_id: str) -> Counter[tuple[str, str]]:
    with ctx.uow(Scope.system()) as uow:
        return Counter((m.template, m.recipient) for m in uow.outbox.for_trial(trial_id))


def due_rows(ctx: Context, trial_id: str) -> list[tuple[str, datetime, str | None]]:
    with ctx.uow(Scope.system()) as uow:
        return [(d.kind, d.due_at, d.outcome) for d in uow.deadlines.for_trial(trial_id)]


@pytest.fixture
def shipped(client: TestClient, world: World) -> dict[str, Any]:
    """A Calling trial with two phones shipped to the customer in France."""
    trial = start_calling_trial(client, world.sales_full)
    order = client.post(
        f"/v1/trials/{trial['id']}/shipments", json=order_body(), headers=world.sales_full.headers
    )
    assert order.status_code == 201, order.text
    sent = client.post(
        f"/v1/shipments/{order.json()['id']}/dispatch",
        json=dispatch_body("foc-111", "FOC222"),
        headers=world.operator.headers,
    )
    assert sent.status_code == 200, sent.text
    return {"trial": trial, "shipment": sent.json()}


def test_order_then_ship_records_everything_and_sends_the_eula_email(
    client: TestClient, world: World, clock: MovableClock
) -> None:
    trial = start_calling_trial(client, world.sales_full)
    r = client.post(
        f"/v1/trials/{trial['id']}/shipments", json=order_body(), headers=world.sales_full.headers
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert re.fullmatch(r"D\d{8}", order["demo_order"])  # rule D9
    assert (order["status"], order["device_type"], order["devices"]) == ("ordered", "phone", [])
    assert order["address"]["email"] == "marie@acme.example"
    assert order["lines"] == [
        {"model": "desk-phone-9841", "name": "Desk Phone 9841", "quantity": 2}
    ]
    assert order["contact_trials_team"] is False
    assert not [r for r in due_rows(world.ctx, trial["id"]) if r[0].startswith("device")]

    clock.advance(2 * DAY)
    r = client.post(
        f"/v1/shipments/{order['id']}/dispatch",
        json=dispatch_body("foc-111", "FOC222"),
        headers=world.operator.headers,
    )
    assert r.status_code == 200, r.text
    s = r.json()
    end = datetime.fromisoformat(trial["ends_at"])
    # rule D4: carrier, tracking and each serial number; rule D7: due back 14 days after the
    # device due date, which defaults to the trial's end date
    assert (s["status"], s["carrier"], s["tracking"]) == ("shipped", "DHL", "JD0123456789")
    assert sorted(d["serial_number"] for d in s["devices"]) == ["FOC-111", "FOC222"]
    assert datetime.fromisoformat(s["device_due_at"]) == end
    assert datetime.fromisoformat(s["return_due_at"]) == end + 14 * DAY
    assert s["return_carrier"] == "DHL"  # rule D8: EMEAR
    assert "DHL" in s["return_instructions"]
    sent = outbox(world.ctx, trial["id"])
    org_admin = trial_admin_email(client, world, trial)
    assert sent[("devices_shipped", "marie@acme.example")] == 1
    assert sent[("devices_shipped", org_admin)] == 1
    # the timeline names the device deadlines (rule D7)
    timeline = client.get(f"/v1/trials/{trial['id']}/timeline", headers=world.read_only.headers)
    kinds = {(d["kind"], datetime.fromisoformat(d["at"])) for d in timeline.json()["deadlines"]}
    assert ("device_overdue", end + 14 * DAY) in kinds
    assert sum(1 for k, _ in kinds if k == "device_reminder") == 2
    listed = client.get(f"/v1/trials/{trial['id']}/shipments", headers=world.read_only.headers)
    assert [x["id"] for x in listed.json()] == [s["id"]]
    audit = client.get("/v1/events", headers=world.sales_full.headers).json()["items"]
    assert {"shipment.ordered", "shipment.shipped"} <= {e["action"] for e in audit}


def trial_admin_email(client: TestClient, world: World, trial: dict[str, Any]) -> str:
    detail = client.get(f"/v1/customers/{trial['customer_id']}", headers=world.sales_full.headers)
    return str(detail.json()["organization"]["admins"][0]["email"])


def test_reminders_and_overdue_fire_at_their_instants_once(
    client: TestClient, world: World, clock: MovableClock, shipped: dict[str, Any]
) -> None:  # rules D7, T10
    ctx = world.ctx
    trial, s = shipped["trial"], shipped["shipment"]
    return_due = datetime.fromisoformat(s["return_due_at"])
    device_due = datetime.fromisoformat(s["device_due_at"])
    partner_admins = {world.sales_full.actor.email, world.partner_full.actor.email}
    for instant, kind in (
        (device_due, "device_reminder"),
        (return_due - 3 * DAY, "device_reminder"),
        (return_due, "device_overdue"),
    ):
        clock.set(instant - SECOND)
        before = lifecycle.tick(ctx)
        assert kind not in [k for _, k, _ in before.outcomes], instant
        clock.set(instant)
        at = lifecycle.tick(ctx)
        assert [k for _, k, _ in at.outcomes].count(kind) == 1, instant
        assert lifecycle.tick(ctx).processed == 0  # never twice
    sent = outbox(ctx, trial["id"])
    assert sent[("device_return_reminder", "marie@acme.example")] == 2
    for email in partner_admins:
        assert sent[("device_return_reminder", email)] == 2
        assert sent[("devices_overdue", email)] == 1
    assert sent[("devices_overdue", "marie@acme.example")] == 1
    view = client.get(f"/v1/shipments/{s['id']}", headers=world.read_only.headers).json()
    assert view["overdue"] is True
    assert datetime.fromisoformat(view["overdue_at"]) == return_due
    actions = [
        e["action"]
        for e in client.get(
            f"/v1/trials/{trial['id']}/timeline", headers=world.read_only.headers
        ).json()["events"]
    ]
    assert actions.count("shipment.return_reminder") == 2
    assert actions.count("shipment.overdue") == 1
    # a late return is still taken, and recorded as late
    r = client.post(
        f"/v1/shipments/{s['id']}/returns",
        json={"serial_numbers": ["FOC-111", "foc222"]},
        headers=world.operator.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "returned"
    assert r.json()["overdue"] is False


def test_a_return_in_time_cancels_what_is_left(
    client: TestClient, world: World, clock: MovableClock, shipped: dict[str, Any]
) -> None:
    ctx = world.ctx
    trial, s = shipped["trial"], shipped["shipment"]
    clock.set(datetime.fromisoformat(s["device_due_at"]))
    lifecycle.tick(ctx)  # the first reminder goes out
    r = client.post(
        f"/v1/shipments/{s['id']}/returns",
        json={"serial_numbers": ["FOC-111", "FOC222"]},
        headers=world.operator.headers,
    )
    assert r.status_code == 200
    pending = [row for row in due_rows(ctx, trial["id"]) if row[0].startswith("device")]
    assert [(k, o) for k, _, o in pending] == [("device_reminder", "notified")]  # history only
    clock.set(datetime.fromisoformat(s["return_due_at"]) + DAY)
    lifecycle.tick(ctx)
    sent = outbox(ctx, trial["id"])
    assert sent[("device_return_reminder", "marie@acme.example")] == 1
    assert not [k for k in sent if k[0] == "devices_overdue"]
    again = client.post(
        f"/v1/shipments/{s['id']}/returns",
        json={"serial_numbers": ["FOC-111", "FOC222"]},
        headers=world.operator.headers,
    )
    assert (again.status_code, again.json()["rule"]) == (409, "D8")


def test_a_return_with_other_serials_is_refused_and_lists_them(
    client: TestClient, world: World, shipped: dict[str, Any]
) -> None:  # rule D8
    s = shipped["shipment"]
    r = client.post(
        f"/v1/shipments/{s['id']}/returns",
        json={"serial_numbers": ["FOC-111", "FOC999"]},
        headers=world.operator.headers,
    )
    assert r.status_code == 422
    assert r.json()["rule"] == "D8"
    messages = sorted(e["message"] for e in r.json()["errors"])
    assert messages == [
        "FOC222 was shipped but is not returned.",
        "FOC999 was not in this shipment.",
    ]
    view = client.get(f"/v1/shipments/{s['id']}", headers=world.operator.headers).json()
    assert (view["status"], view["returned_at"]) == ("shipped", None)  # nothing changed


def test_the_device_due_date_does_not_follow_the_trial(
    client: TestClient, world: World, shipped: dict[str, Any]
) -> None:  # rule D7: set from the EULA date, not from the trial's end date
    trial, s = shipped["trial"], shipped["shipment"]
    before = [r for r in due_rows(world.ctx, trial["id"]) if r[0].startswith("device")]
    r = client.post(f"/v1/trials/{trial['id']}/extend", json={}, headers=world.sales_full.headers)
    assert r.status_code == 200
    view = client.get(f"/v1/shipments/{s['id']}", headers=world.read_only.headers).json()
    assert view["return_due_at"] == s["return_due_at"]
    assert [r for r in due_rows(world.ctx, trial["id"]) if r[0].startswith("device")] == before
    # devices come back even from a deleted trial
    client.delete(f"/v1/trials/{trial['id']}?confirm=true", headers=world.sales_full.headers)
    after = [r for r in due_rows(world.ctx, trial["id"]) if r[0].startswith("device")]
    assert after == before


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"devices": [{"model": "no-such", "quantity": 1}]}, "devices[0].model", "D1"),
        ({"devices": [{"model": "desk-phone-9841", "quantity": 6}]}, "devices[0].quantity", None),
        (
            {
                "devices": [
                    {"model": "desk-phone-9841", "quantity": 3},
                    {"model": "desk-phone-9871", "quantity": 2},
                ]
            },
            "devices",
            "D1",
        ),  # 5 phones: at most 4
        (
            {
                "devices": [
                    {"model": "room-bar", "quantity": 2},
                    {"model": "room-kit-pro", "quantity": 2},
                ]
            },
            "devices",
            "D1",
        ),  # 4 room devices: at most 3
        (
            {
                "devices": [
                    {"model": "room-bar", "quantity": 1},
                    {"model": "desk-pro", "quantity": 1},
                ]
            },
            "devices",
            "D2",
        ),  # one device type per shipment
        ({"poe_supported": None}, "poe_supported", "D3"),
        ({"devices": [{"model": "desk-mini", "quantity": 1}]}, "devices[0].model", "D1"),
        ({"address": {**order_body()["address"], "country": "ZZ"}}, "address.country", "D1"),
        ({"address": {**order_body()["address"], "email": "not-an-email"}}, "address.email", "D1"),
        ({"address": {**order_body()["address"], "country": "US"}}, "deal_id", "D1"),
        ({"recipient": "neighbour"}, "recipient", "D1"),
        ({"devices": []}, "devices", "D1"),
        ({"colour": "red"}, "colour", "D1"),
    ],
)
def test_bad_orders_name_the_field_and_write_nothing(
    client: TestClient,
    world: World,
    overrides: dict[str, Any],
    field: str,
    rule: str | None,
) -> None:
    trial = start_calling_trial(client, world.sales_full)
    r = client.post(
        f"/v1/trials/{trial['id']}/shipments",
        json=order_body(**overrides),
        headers=world.sales_full.headers,
    )
    assert r.status_code == 422, r.text
    body = r.json()
    fields = [e["field"] for e in body["errors"]]
    assert field in fields, fields
    if rule:
        assert rule in {e.get("rule") for e in body["errors"]} | {body["rule"]}
    listed = client.get(f"/v1/trials/{trial['id']}/shipments", headers=world.read_only.headers)
    assert listed.json() == []


def test_every_problem_of_an_order_is_listed_at_once(client: TestClient, world: World) -> None:
    trial = start_calling_trial(client, world.sales_full)
    body = order_body(
        address={**order_body()["address"], "email": "nope"},
        devices=[{"model": "no-such", "quantity": 1}],
        poe_supported=None,
    )
    r = client.post(
        f"/v1/trials/{trial['id']}/shipments", json=body, headers=world.sales_full.headers
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"address.email", "devices[0].model"}


def test_phones_without_poe_are_flagged_for_the_trials_team(
    client: TestClient, world: World
) -> None:  # rule D3
    trial = start_calling_trial(client, world.sales_full)
    r = client.post(
        f"/v1/trials/{trial['id']}/shipments",
        json=order_body(poe_supported=False),
        headers=world.sales_full.headers,
    )
    assert r.status_code == 201
    assert r.json()["contact_trials_team"] is True
    assert "trials team" in r.json()["contact_trials_team_reason"]


def test_one_shipment_per_device_type(client: TestClient, world: World) -> None:  # rule D2
    trial = start_calling_trial(client, world.sales_full)
    url = f"/v1/trials/{trial['id']}/shipments"
    h = world.sales_full.headers
    assert client.post(url, json=order_body(), headers=h).status_code == 201
    again = client.post(
        url, json=order_body(devices=[{"model": "desk-phone-9871", "quantity": 1}]), headers=h
    )
    assert (again.status_code, again.json()["rule"]) == (409, "D2")
    other_type = order_body(devices=[{"model": "room-bar", "quantity": 1}], poe_supported=None)
    assert client.post(url, json=other_type, headers=h).status_code == 201
    assert len(client.get(url, headers=h).json()) == 2


def test_the_device_step_needs_calling_or_devices_and_a_running_trial(
    client: TestClient, world: World
) -> None:  # rule D1
    h = world.sales_full.headers
    meetings = client.post("/v1/trials", json=new_customer_body(), headers=h).json()
    r = client.post(f"/v1/trials/{meetings['id']}/shipments", json=order_body(), headers=h)
    assert (r.status_code, r.json()["rule"]) == (422, "D1")
    later = start_calling_trial(client, world.sales_full, setup="later")
    assert later["status"] == "awaiting_provisioning"
    ok = client.post(f"/v1/trials/{later['id']}/shipments", json=order_body(), headers=h)
    assert ok.status_code == 201  # devices can ship before provisioning completes
    trial = start_calling_trial(client, world.sales_full)
    client.delete(f"/v1/trials/{trial['id']}?confirm=true", headers=h)
    gone = client.post(f"/v1/trials/{trial['id']}/shipments", json=order_body(), headers=h)
    assert (gone.status_code, gone.json()["rule"]) == (409, "D1")


def test_a_partner_has_a_limited_number_of_device_trials(
    client: TestClient, world: World
) -> None:  # rule D1 (20 by default; 1 here)
    world.ctx.policy = replace(world.ctx.policy, max_active_device_trials_per_partner=1)
    h = world.sales_full.headers
    first = start_calling_trial(client, world.sales_full)
    second = start_calling_trial(client, world.sales_full)
    assert (
        client.post(f"/v1/trials/{first['id']}/shipments", json=order_body(), headers=h).status_code
        == 201
    )
    room = order_body(devices=[{"model": "room-bar", "quantity": 1}], poe_supported=None)
    # a second device type for the same trial is no new device trial
    assert (
        client.post(f"/v1/trials/{first['id']}/shipments", json=room, headers=h).status_code == 201
    )
    r = client.post(f"/v1/trials/{second['id']}/shipments", json=order_body(), headers=h)
    assert (r.status_code, r.json()["rule"]) == (409, "D1")


def test_who_may_order_ship_and_take_returns(
    client: TestClient, world: World, shipped: dict[str, Any]
) -> None:  # rules P2, P3
    trial, s = shipped["trial"], shipped["shipment"]
    url = f"/v1/trials/{trial['id']}/shipments"
    room = order_body(devices=[{"model": "room-bar", "quantity": 1}], poe_supported=None)
    r = client.post(url, json=room, headers=world.read_only.headers)
    assert (r.status_code, r.json()["rule"]) == (403, "P2")
    r = client.post(url, json=room, headers=world.operator.headers)
    assert r.status_code == 403  # the partner orders; the trials team ships
    # a sales administrator acts only on customers it created or was assigned
    assert client.post(url, json=room, headers=world.sales.headers).status_code == 404
    assert client.get(f"/v1/shipments/{s['id']}", headers=world.sales.headers).status_code == 404
    assert (
        client.get(f"/v1/shipments/{s['id']}", headers=world.read_only.headers).status_code == 200
    )
    # partners cannot ship or take returns
    for who in (world.sales_full, world.partner_full):
        r = client.post(
            f"/v1/shipments/{s['id']}/dispatch",
            json=dispatch_body("SN-X1", "SN-X2"),
            headers=who.headers,
        )
        assert r.status_code == 403
        r = client.post(
            f"/v1/shipments/{s['id']}/returns", json={"serial_numbers": ["X"]}, headers=who.headers
        )
        assert r.status_code == 403
    # another partner sees nothing
    other = make_world(world.ctx, name="B")
    assert (
        client.get(f"/v1/shipments/{s['id']}", headers=other.sales_full.headers).status_code == 404
    )
    assert client.get(url, headers=other.sales_full.headers).status_code == 404
    r = client.post(url, json=room, headers=other.sales_full.headers)
    assert r.status_code == 404


def test_bad_dispatches_change_nothing(
    client: TestClient, world: World, clock: MovableClock
) -> None:  # rules D4, D5, D7
    trial = start_calling_trial(client, world.sales_full)
    order = client.post(
        f"/v1/trials/{trial['id']}/shipments", json=order_body(), headers=world.sales_full.headers
    ).json()
    url = f"/v1/shipments/{order['id']}/dispatch"
    h = world.operator.headers
    cases = [
        (dispatch_body("SN-A1"), "devices", "D4"),  # two ordered, one serial
        (dispatch_body("SN-A1", "sn-a1"), "devices[1].serial_number", "D4"),
        (dispatch_body("SN-A1", "SN-A2", model="room-bar"), "devices[0].model", "D4"),
        (
            dispatch_body("SN-A1", "SN-A2", device_due_at=(clock.now() + 121 * DAY).isoformat()),
            "device_due_at",
            "D5",
        ),
        (
            dispatch_body("SN-A1", "SN-A2", device_due_at=(clock.now() - DAY).isoformat()),
            "device_due_at",
            "D7",
        ),
        (
            dispatch_body("SN-A1", "SN-A2", device_due_at="2026-06-01T00:00:00"),
            "device_due_at",
            None,
        ),
    ]
    for body, field, rule in cases:
        r = client.post(url, json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        errors = r.json()["errors"]
        assert field in [e["field"] for e in errors], (field, errors)
        if rule:
            assert rule in [e["rule"] for e in errors]
    view = client.get(f"/v1/shipments/{order['id']}", headers=h).json()
    assert (view["status"], view["devices"]) == ("ordered", [])
    due = (clock.now() + 60 * DAY).isoformat()
    ok = client.post(url, json=dispatch_body("SN-A1", "SN-A2", device_due_at=due), headers=h)
    assert ok.status_code == 200
    assert datetime.fromisoformat(ok.json()["device_due_at"]) == clock.now() + 60 * DAY
    twice = client.post(url, json=dispatch_body("SN-A1", "SN-A2"), headers=h)
    assert (twice.status_code, twice.json()["rule"]) == (409, "D4")
    # serial numbers still out cannot ship again
    other = start_calling_trial(client, world.sales_full)
    order2 = client.post(
        f"/v1/trials/{other['id']}/shipments", json=order_body(), headers=world.sales_full.headers
    ).json()
    r = client.post(
        f"/v1/shipments/{order2['id']}/dispatch", json=dispatch_body("SN-A1", "SN-B2"), headers=h
    )
    assert r.status_code == 422
    assert "SN-A1 is in a shipment still out" in r.text


def test_lost_labels_are_re_requested_in_the_us_only(
    client: TestClient, world: World, shipped: dict[str, Any]
) -> None:  # rule D8
    s = shipped["shipment"]
    r = client.post(f"/v1/shipments/{s['id']}/return-label", headers=world.sales_full.headers)
    assert (r.status_code, r.json()["rule"]) == (422, "D8")
    assert "DHL" in r.json()["detail"]
    trial = start_calling_trial(client, world.sales_full)
    us = order_body(
        address={**order_body()["address"], "country": "US", "city": "Austin"}, deal_id="DEAL-7"
    )
    order = client.post(
        f"/v1/trials/{trial['id']}/shipments", json=us, headers=world.sales_full.headers
    ).json()
    sent = client.post(
        f"/v1/shipments/{order['id']}/dispatch",
        json=dispatch_body("US1", "US2"),
        headers=world.operator.headers,
    ).json()
    assert sent["return_carrier"] == "UPS"
    assert "return label" in sent["return_instructions"]
    r = client.post(f"/v1/shipments/{order['id']}/return-label", headers=world.sales_full.headers)
    assert r.status_code == 200
    assert r.json()["labels_requested"] == 1
    assert outbox(world.ctx, trial["id"])[("return_label", "marie@acme.example")] == 1


def test_demo_orders_are_found_by_org_and_admin_email_or_serial(
    client: TestClient, world: World, shipped: dict[str, Any]
) -> None:  # rule D9
    trial, s = shipped["trial"], shipped["shipment"]
    org_id = s["org_id"]
    admin = trial_admin_email(client, world, trial)
    for who in (world.operator, world.sales_full):
        by_email = client.get(
            "/v1/demo-orders", params={"org_id": org_id, "admin_email": admin}, headers=who.headers
        )
        assert [x["demo_order"] for x in by_email.json()] == [s["demo_order"]]
        by_serial = client.get(
            "/v1/demo-orders", params={"org_id": org_id, "serial": "foc222"}, headers=who.headers
        )
        assert [x["demo_order"] for x in by_serial.json()] == [s["demo_order"]]
    h = world.operator.headers
    wrong = client.get(
        "/v1/demo-orders", params={"org_id": org_id, "admin_email": "x@y.example"}, headers=h
    )
    assert wrong.json() == []
    both = client.get("/v1/demo-orders", params={"org_id": org_id}, headers=h)
    assert (both.status_code, both.json()["rule"]) == (422, "D9")
    other = make_world(world.ctx, name="B")
    theirs = client.get(
        "/v1/demo-orders",
        params={"org_id": org_id, "serial": "FOC222"},
        headers=other.sales_full.headers,
    )
    assert theirs.json() == []  # rule P3


def test_reminders_reach_an_assigned_sales_admin_only_when_assigned(
    client: TestClient, world: World, clock: MovableClock, shipped: dict[str, Any]
) -> None:  # rules D7, P2: partner admins who manage the customer
    extra = make_admin(world.ctx, partner_id=world.partner_id, roles=("sales_admin",))
    s = shipped["shipment"]
    clock.set(datetime.fromisoformat(s["device_due_at"]))
    lifecycle.tick(world.ctx)
    sent = outbox(world.ctx, shipped["trial"]["id"])
    assert sent[("device_return_reminder", extra.actor.email)] == 0
    assert sent[("device_return_reminder", world.sales_full.actor.email)] == 1
