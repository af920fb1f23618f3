"""Device trials are extended by the trials team on request, never past 120 days (rules T3,
D5, D6), and an approval moves the device due dates and their reminders (rule D7)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import World, make_world, new_customer_body
from tests.support.factories import dispatch_body, order_body
from trialhub.clock import MovableClock
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.store.repositories import Scope

DAY = timedelta(days=1)


def start(client: TestClient, world: World, services: list[dict[str, Any]]) -> dict[str, Any]:
    body = new_customer_body(services=services, meetings=None, user_licenses=5, duration_days=30)
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def device_trial(client: TestClient, world: World) -> dict[str, Any]:
    return start(client, world, [{"code": "room_devices", "quantity": 2}, {"code": "calling"}])


def ask(client: TestClient, world: World, trial_id: str, end: datetime, **kw: Any) -> Any:
    return client.post(
        f"/v1/trials/{trial_id}/device-extension-requests",
        json={"requested_end": end.isoformat(), **kw},
        headers=world.sales_full.headers,
    )


def decide(client: TestClient, world: World, request_id: str, approve: bool, **kw: Any) -> Any:
    return client.post(
        f"/v1/device-extension-requests/{request_id}/decision",
        json={"approve": approve, **kw},
        headers=world.operator.headers,
    )


def emails(ctx: Context, trial_id: str) -> Counter[tuple[str, str]]:
    with ctx.uow(Scope.system()) as uow:
        return Counter((m.template, m.recipient) for m in uow.outbox.for_trial(trial_id))


def device_due_rows(ctx: Context, trial_id: str) -> list[tuple[str, datetime]]:
    with ctx.uow(Scope.system()) as uow:
        return sorted(
            (d.kind, d.due_at)
            for d in uow.deadlines.for_trial(trial_id)
            if d.kind.startswith("device") and d.done_at is None
        )


def test_device_services_are_not_extended_by_30_days(client: TestClient, world: World) -> None:
    trial = device_trial(client, world)  # rule T3: device services follow D5 and D6 instead
    r = client.post(f"/v1/trials/{trial['id']}/extend", json={}, headers=world.sales_full.headers)
    assert r.status_code == 422
    assert (r.json()["rule"], r.json()["code"]) == ("D6", "device_extension_required")
    assert "device-extension-requests" in r.json()["detail"]
    again = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert (again["ends_at"], again["extensions"]) == (trial["ends_at"], [])


def test_request_then_approval_moves_the_end_and_the_device_due_dates(
    client: TestClient, world: World, clock: MovableClock
) -> None:
    ctx = world.ctx
    trial = device_trial(client, world)
    end = datetime.fromisoformat(trial["ends_at"])
    room = order_body(devices=[{"model": "room-bar", "quantity": 1}], poe_supported=None)
    order = client.post(
        f"/v1/trials/{trial['id']}/shipments", json=room, headers=world.sales_full.headers
    ).json()
    shipped = client.post(
        f"/v1/shipments/{order['id']}/dispatch",
        json=dispatch_body("RB-1", model="room-bar"),
        headers=world.operator.headers,
    ).json()
    assert datetime.fromisoformat(shipped["device_due_at"]) == end
    before = device_due_rows(ctx, trial["id"])
    assert ("device_overdue", end + 14 * DAY) in before

    wanted = end + 60 * DAY
    r = ask(client, world, trial["id"], wanted, reason="pilot runs late")
    assert r.status_code == 201, r.text
    request = r.json()
    assert request["decision"] == "pending"
    cap = datetime.fromisoformat(request["cap"])
    assert cap == datetime.fromisoformat(trial["starts_at"]) + 120 * DAY  # rule D5
    assert emails(ctx, trial["id"])[("device_extension_requested", world.operator.actor.email)] == 1
    twice = ask(client, world, trial["id"], wanted + DAY)
    assert (twice.status_code, twice.json()["rule"]) == (409, "D6")
    queue = client.get(
        "/v1/device-extension-requests",
        params={"decision": "pending"},
        headers=world.operator.headers,
    ).json()["items"]
    assert [q["id"] for q in queue] == [request["id"]]

    r = decide(client, world, request["id"], True, note="ok for the pilot")
    assert r.status_code == 200, r.text
    assert (r.json()["decision"], r.json()["note"]) == ("approved", "ok for the pilot")
    after = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert datetime.fromisoformat(after["ends_at"]) == wanted
    assert len(after["extensions"]) == 1  # recorded with who and why (rule T3)
    assert "trials team" in after["extensions"][0]["reason"]
    moved = client.get(f"/v1/shipments/{order['id']}", headers=world.sales_full.headers).json()
    assert datetime.fromisoformat(moved["device_due_at"]) == wanted
    assert datetime.fromisoformat(moved["return_due_at"]) == wanted + 14 * DAY
    rows = device_due_rows(ctx, trial["id"])
    assert ("device_overdue", wanted + 14 * DAY) in rows
    assert not set(before) & set(rows)  # the old reminders are gone
    sent = emails(ctx, trial["id"])
    assert sent[("device_extension_decided", world.sales_full.actor.email)] == 1
    again = decide(client, world, request["id"], False)
    assert (again.status_code, again.json()["rule"]) == (409, "D6")
    # nothing fires at the old return date any more
    clock.set(end + 14 * DAY)
    report = lifecycle.tick(ctx)
    assert "device_overdue" not in [k for _, k, _ in report.outcomes]


def test_bad_requests_name_the_rule_and_change_nothing(client: TestClient, world: World) -> None:
    trial = device_trial(client, world)
    end = datetime.fromisoformat(trial["ends_at"])
    start_at = datetime.fromisoformat(trial["starts_at"])
    cases = [
        (end, "D6"),  # not later than the current end
        (start_at + 120 * DAY + timedelta(seconds=1), "D5"),  # past the cap
    ]
    for when, rule in cases:
        r = ask(client, world, trial["id"], when)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "requested_end"
        assert r.json()["errors"][0]["rule"] == rule
    naive = client.post(
        f"/v1/trials/{trial['id']}/device-extension-requests",
        json={"requested_end": "2026-06-01T00:00:00"},
        headers=world.sales_full.headers,
    )
    assert naive.status_code == 422
    plain = start(client, world, [{"code": "messaging"}])
    r = ask(client, world, plain["id"], end + DAY)
    assert (r.status_code, r.json()["rule"]) == (422, "D6")  # use rule T3 instead
    listed = client.get("/v1/device-extension-requests", headers=world.operator.headers).json()
    assert listed == {"items": [], "next_cursor": None}
    bad = client.get(
        "/v1/device-extension-requests",
        params={"decision": "maybe"},
        headers=world.operator.headers,
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "decision")


def test_denial_moves_nothing_and_an_approval_past_the_cap_is_refused(
    client: TestClient, world: World
) -> None:
    trial = device_trial(client, world)
    end = datetime.fromisoformat(trial["ends_at"])
    denied = ask(client, world, trial["id"], end + 30 * DAY).json()
    r = decide(client, world, denied["id"], False, note="no stock")
    assert r.json()["decision"] == "denied"
    same = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert same["ends_at"] == trial["ends_at"]
    assert (
        emails(world.ctx, trial["id"])[("device_extension_decided", world.sales_full.actor.email)]
        == 1
    )
    # the policy tightened after the request: the approval is refused (rules D5, D6)
    late = ask(client, world, trial["id"], end + 80 * DAY).json()
    world.ctx.policy = replace(world.ctx.policy, device_trial_max_days=60)
    r = decide(client, world, late["id"], True)
    assert (r.status_code, r.json()["rule"]) == (422, "D5")
    still = client.get(
        "/v1/device-extension-requests",
        params={"trial_id": trial["id"], "decision": "pending"},
        headers=world.sales_full.headers,
    ).json()["items"]
    assert [s["id"] for s in still] == [late["id"]]


def test_phones_out_of_a_calling_trial_get_more_time_without_moving_the_trial(
    client: TestClient, world: World
) -> None:  # Calling follows T3; its phones follow D6
    trial = start(client, world, [{"code": "calling"}])
    end = datetime.fromisoformat(trial["ends_at"])
    order = client.post(
        f"/v1/trials/{trial['id']}/shipments", json=order_body(), headers=world.sales_full.headers
    ).json()
    client.post(
        f"/v1/shipments/{order['id']}/dispatch",
        json=dispatch_body("PH-1", "PH-2"),
        headers=world.operator.headers,
    )
    request = ask(client, world, trial["id"], end + 20 * DAY).json()
    assert decide(client, world, request["id"], True).status_code == 200
    after = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert after["ends_at"] == trial["ends_at"]
    view = client.get(f"/v1/shipments/{order['id']}", headers=world.sales_full.headers).json()
    assert datetime.fromisoformat(view["device_due_at"]) == end + 20 * DAY


def test_who_may_ask_and_decide(client: TestClient, world: World) -> None:  # rules P2, P3
    trial = device_trial(client, world)
    end = datetime.fromisoformat(trial["ends_at"])
    url = f"/v1/trials/{trial['id']}/device-extension-requests"
    body = {"requested_end": (end + DAY).isoformat()}
    r = client.post(url, json=body, headers=world.read_only.headers)
    assert (r.status_code, r.json()["rule"]) == (403, "P2")
    assert client.post(url, json=body, headers=world.operator.headers).status_code == 403
    other = make_world(world.ctx, name="B")
    assert client.post(url, json=body, headers=other.sales_full.headers).status_code == 404
    request = ask(client, world, trial["id"], end + DAY).json()
    for who in (world.sales_full, world.partner_full, other.sales_full):
        r = client.post(
            f"/v1/device-extension-requests/{request['id']}/decision",
            json={"approve": True},
            headers=who.headers,
        )
        assert r.status_code == 403
    theirs = client.get("/v1/device-extension-requests", headers=other.sales_full.headers)
    assert theirs.json()["items"] == []
    mine = client.get("/v1/device-extension-requests", headers=world.read_only.headers)
    assert [m["id"] for m in mine.json()["items"]] == [request["id"]]


def test_an_approval_in_grace_brings_the_trial_back(
    client: TestClient, world: World, clock: MovableClock
) -> None:
    trial = device_trial(client, world)
    end = datetime.fromisoformat(trial["ends_at"])
    clock.set(end + DAY)
    lifecycle.tick(world.ctx)
    expired = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert expired["status"] == "expired"
    request = ask(client, world, trial["id"], end + 40 * DAY).json()
    assert decide(client, world, request["id"], True).status_code == 200
    back = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert back["status"] == "active"
    assert datetime.fromisoformat(back["ends_at"]) == end + 40 * DAY
