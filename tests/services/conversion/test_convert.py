"""Converting a trial to a paid order (rules V1-V5): tier 1 converts, tier 2 asks its
distributor; the order's contact, its losses and the trial's state are checked; the trial's
deadlines go with it (rule T10)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Login, World, make_admin, make_world, new_customer_body
from tests.support.statements import statements
from trialhub.clock import MovableClock
from trialhub.services import accounts
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner, IssueToken
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.store.repositories import Scope

DAY = timedelta(days=1)


def start(client: TestClient, who: Login, **kw: Any) -> dict[str, Any]:
    body = new_customer_body(
        services=[{"code": "calling"}, {"code": "messaging"}],
        meetings=None,
        user_licenses=5,
        duration_days=30,
        **kw,
    )
    r = client.post("/v1/trials", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def org_admin(client: TestClient, who: Login, trial: dict[str, Any]) -> str:
    detail = client.get(f"/v1/customers/{trial['customer_id']}", headers=who.headers).json()
    return str(detail["organization"]["admins"][0]["email"])


def pending_deadlines(ctx: Context, trial_id: str) -> list[str]:
    with ctx.uow(Scope.system()) as uow:
        return [d.kind for d in uow.deadlines.for_trial(trial_id) if d.done_at is None]


def emails(ctx: Context, trial_id: str) -> Counter[tuple[str, str]]:
    with ctx.uow(Scope.system()) as uow:
        return Counter((m.template, m.recipient) for m in uow.outbox.for_trial(trial_id))


def convert(client: TestClient, who: Login, trial_id: str, **body: Any) -> Any:
    return client.post(f"/v1/trials/{trial_id}/convert", json=body, headers=who.headers)


@pytest.fixture
def tier2(ctx: Context) -> dict[str, Any]:
    """A certified tier-2 partner, its sales administrator, and two distributors' admins."""
    partner = accounts.create_partner(
        ctx, SYSTEM_OPERATOR, CreatePartner(name="Tier Two", tier=2, distributor_name="Dist A")
    )
    other = accounts.create_partner(
        ctx, SYSTEM_OPERATOR, CreatePartner(name="Tier Two B", tier=2, distributor_name="Dist B")
    )

    def distributor_admin(distributor_id: str | None) -> Login:
        assert distributor_id is not None
        email = f"dist-{distributor_id[-6:]}@distributor.example"
        admin = accounts.create_admin(
            ctx,
            SYSTEM_OPERATOR,
            None,
            CreateAdmin(
                email=email, name="Dee", roles=["distributor"], distributor_id=distributor_id
            ),
        )
        token = accounts.issue_token(ctx, SYSTEM_OPERATOR, admin.id, IssueToken(label="t"))
        assert token.token is not None
        return Login(actor=accounts.actor_for_email(ctx, email), token=token.token)

    return {
        "sales": make_admin(ctx, partner_id=partner.id, roles=("sales_full_admin",)),
        "distributor": distributor_admin(partner.distributor_id),
        "other_distributor": distributor_admin(other.distributor_id),
    }


def test_tier_one_converts_and_the_services_become_purchased(
    client: TestClient, world: World
) -> None:  # rules V1, V3, V5, T10
    trial = start(client, world.sales_full)
    assert "notice_before_end" in pending_deadlines(world.ctx, trial["id"])
    admin = org_admin(client, world.sales_full, trial)
    order = {"services": [{"code": "calling"}], "provisioning_email": admin}
    r = convert(client, world.sales_full, trial["id"], **order)
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("confirm_lost_services", "V3")
    assert "messaging" in r.json()["detail"]
    assert (
        client.get(f"/v1/trials/{trial['id']}", headers=world.read_only.headers).json()["status"]
        == "active"
    )  # nothing changed

    r = convert(client, world.sales_full, trial["id"], **order, confirm_lost_services=True)
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["status"], done["path"], done["lost_services"]) == (
        "completed",
        "direct",
        ["messaging"],
    )
    assert done["services"] == [{"code": "calling", "name": "Webex Calling", "quantity": 5}]
    after = client.get(f"/v1/trials/{trial['id']}", headers=world.read_only.headers).json()
    assert after["status"] == "converted"
    customer = client.get(
        f"/v1/customers/{trial['customer_id']}", headers=world.read_only.headers
    ).json()
    subs = customer["organization"]["subscriptions"]
    assert [(s["service"], s["quantity"], s["managing_partner_name"]) for s in subs] == [
        ("calling", 5, "Partner A")
    ]
    assert pending_deadlines(world.ctx, trial["id"]) == []  # rewritten on convert
    sent = emails(world.ctx, trial["id"])
    assert sent[("trial_converted", admin)] == 1
    assert sent[("trial_converted", world.sales_full.actor.email)] == 1
    actions = [
        e["action"]
        for e in client.get(
            f"/v1/trials/{trial['id']}/timeline", headers=world.read_only.headers
        ).json()["events"]
    ]
    assert {"order.created", "order.completed", "trial.converted"} <= set(actions)
    again = convert(client, world.sales_full, trial["id"], **order, confirm_lost_services=True)
    assert (again.status_code, again.json()["rule"]) == (409, "V4")


def test_the_provisioning_contact(client: TestClient, world: World) -> None:  # rule V2
    trial = start(client, world.sales_full)
    everything = [{"code": "calling"}, {"code": "messaging", "quantity": 7}]
    r = convert(
        client,
        world.sales_full,
        trial["id"],
        services=everything,
        provisioning_email="x@new.example",
    )
    assert (r.status_code, r.json()["field"], r.json()["rule"]) == (
        422,
        "provisioning_email",
        "V2",
    )
    assert "new organization" in r.json()["detail"]
    r = convert(
        client,
        world.sales_full,
        trial["id"],
        services=everything,
        provisioning_email="X@New.example",
        confirm_new_organization=True,
    )
    assert r.status_code == 201
    assert r.json()["new_organization_confirmed"] is True
    assert r.json()["provisioning_email"] == "x@new.example"
    assert [s["quantity"] for s in r.json()["services"]] == [5, 7]
    # a partner administrator of the managing partner is a valid contact
    other = start(client, world.sales_full)
    r = convert(
        client,
        world.sales_full,
        other["id"],
        services=everything,
        provisioning_email=world.partner_admin.actor.email,
    )
    assert (r.status_code, r.json()["new_organization_confirmed"]) == (201, False)


@pytest.mark.parametrize(
    ("services", "field", "rule"),
    [
        ([{"code": "meetings"}], "services[0].code", "V5"),
        ([{"code": "calling"}, {"code": "calling"}], "services[1].code", "V3"),
        ([{"code": "calling", "quantity": 0}], "services[0].quantity", "S1"),
        ([{"code": "calling", "quantity": 1000}], "services[0].quantity", "S1"),
        ([], "services", "V5"),
    ],
)
def test_bad_orders_change_nothing(
    client: TestClient, world: World, services: list[dict[str, Any]], field: str, rule: str | None
) -> None:
    trial = start(client, world.sales_full)
    r = convert(
        client,
        world.sales_full,
        trial["id"],
        services=services,
        provisioning_email=world.sales_full.actor.email,
        confirm_lost_services=True,
    )
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    if rule:
        assert rule in [e["rule"] for e in r.json()["errors"]]
    listed = client.get("/v1/orders", headers=world.sales_full.headers).json()
    assert listed == {"items": [], "next_cursor": None}


def test_only_active_or_grace_trials_convert(
    client: TestClient, world: World, clock: MovableClock
) -> None:  # rule V4
    order = {
        "services": [{"code": "calling"}, {"code": "messaging"}],
        "provisioning_email": world.sales_full.actor.email,
    }
    later = start(client, world.sales_full, setup="later")
    r = convert(client, world.sales_full, later["id"], **order)
    assert (r.status_code, r.json()["rule"]) == (409, "V4")
    grace = start(client, world.sales_full)
    lapsing = start(client, world.sales_full)
    clock.set(datetime.fromisoformat(grace["ends_at"]) + DAY)
    lifecycle.tick(world.ctx)
    r = convert(client, world.sales_full, grace["id"], **order)
    assert r.status_code == 201  # in grace: still convertible
    clock.set(datetime.fromisoformat(lapsing["ends_at"]) + 31 * DAY)
    lifecycle.tick(world.ctx)
    r = convert(client, world.sales_full, lapsing["id"], **order)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "trial_lapsed", "T7")


def test_calling_left_out_keeps_its_numbers_15_days(
    client: TestClient, world: World, clock: MovableClock
) -> None:  # rules V3, T8
    trial = start(client, world.sales_full)
    r = convert(
        client,
        world.sales_full,
        trial["id"],
        services=[{"code": "messaging"}],
        provisioning_email=world.sales_full.actor.email,
        confirm_lost_services=True,
    )
    assert r.status_code == 201
    assert pending_deadlines(world.ctx, trial["id"]) == ["number_release"]
    clock.advance(15 * DAY - timedelta(seconds=1))
    assert "number_release" not in [k for _, k, _ in lifecycle.tick(world.ctx).outcomes]
    clock.advance(timedelta(seconds=1))
    assert [k for _, k, _ in lifecycle.tick(world.ctx).outcomes] == ["number_release"]


def test_who_may_convert(client: TestClient, world: World) -> None:  # rules P2, P3, V1
    trial = start(client, world.sales_full)
    body = {
        "services": [{"code": "calling"}, {"code": "messaging"}],
        "provisioning_email": world.sales_full.actor.email,
    }
    r = convert(client, world.read_only, trial["id"], **body)
    assert (r.status_code, r.json()["rule"]) == (403, "P2")
    assert convert(client, world.sales, trial["id"], **body).status_code == 404  # not its own
    r = convert(client, world.operator, trial["id"], **body)
    assert (r.status_code, r.json()["rule"]) == (403, "V1")
    other = make_world(world.ctx, name="B")
    assert convert(client, other.sales_full, trial["id"], **body).status_code == 404
    assert client.get("/v1/orders", headers=other.sales_full.headers).json()["items"] == []


def test_tier_two_asks_its_distributor(
    client: TestClient, world: World, tier2: dict[str, Any]
) -> None:  # rule V1
    sales, dist, other_dist = tier2["sales"], tier2["distributor"], tier2["other_distributor"]
    trial = start(client, sales)
    body = {
        "services": [{"code": "calling"}, {"code": "messaging"}],
        "provisioning_email": sales.actor.email,
    }
    r = convert(client, sales, trial["id"], **body)
    assert r.status_code == 202, r.text
    request = r.json()
    assert (request["status"], request["path"]) == ("requested", "distributor_request")
    assert (
        client.get(f"/v1/trials/{trial['id']}", headers=sales.headers).json()["status"] == "active"
    )
    assert emails(world.ctx, trial["id"])[("conversion_requested", dist.actor.email)] == 1
    twice = convert(client, sales, trial["id"], **body)
    assert (twice.status_code, twice.json()["rule"]) == (409, "V1")
    # the distributor's queue holds it; another distributor sees nothing and cannot act
    queue = client.get("/v1/orders", params={"status": "requested"}, headers=dist.headers)
    assert [o["id"] for o in queue.json()["items"]] == [request["id"]]
    assert client.get("/v1/orders", headers=other_dist.headers).json()["items"] == []
    url = f"/v1/orders/{request['id']}/decision"
    assert client.post(url, json={"approve": True}, headers=other_dist.headers).status_code == 404
    assert client.post(url, json={"approve": True}, headers=sales.headers).status_code == 403
    assert (
        client.post(url, json={"approve": True}, headers=world.operator.headers).status_code == 403
    )
    r = client.post(url, json={"approve": True, "note": "PO 4711"}, headers=dist.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["note"]) == ("completed", "PO 4711")
    assert (
        client.get(f"/v1/trials/{trial['id']}", headers=sales.headers).json()["status"]
        == "converted"
    )
    again = client.post(url, json={"approve": True}, headers=dist.headers)
    assert (again.status_code, again.json()["rule"]) == (409, "V1")


def test_a_declined_request_leaves_the_trial_running(
    client: TestClient, tier2: dict[str, Any], ctx: Context
) -> None:
    sales, dist = tier2["sales"], tier2["distributor"]
    trial = start(client, sales)
    body = {
        "services": [{"code": "calling"}, {"code": "messaging"}],
        "provisioning_email": sales.actor.email,
    }
    request = convert(client, sales, trial["id"], **body).json()
    r = client.post(
        f"/v1/orders/{request['id']}/decision",
        json={"approve": False, "note": "no credit line"},
        headers=dist.headers,
    )
    assert r.json()["status"] == "declined"
    assert emails(ctx, trial["id"])[("conversion_declined", sales.actor.email)] == 1
    assert (
        client.get(f"/v1/trials/{trial['id']}", headers=sales.headers).json()["status"] == "active"
    )
    assert convert(client, sales, trial["id"], **body).status_code == 202  # may ask again


def test_the_distributor_checks_again_when_it_processes(
    client: TestClient, tier2: dict[str, Any], clock: MovableClock, ctx: Context
) -> None:  # rules V3, V4 at processing time
    sales, dist = tier2["sales"], tier2["distributor"]
    body = {
        "services": [{"code": "calling"}, {"code": "messaging"}],
        "provisioning_email": sales.actor.email,
    }
    lapsing = start(client, sales)
    request = convert(client, sales, lapsing["id"], **body).json()
    clock.set(datetime.fromisoformat(lapsing["ends_at"]) + 31 * DAY)
    lifecycle.tick(ctx)
    r = client.post(
        f"/v1/orders/{request['id']}/decision", json={"approve": True}, headers=dist.headers
    )
    assert (r.status_code, r.json()["rule"]) == (409, "T7")
    changed = start(client, sales)
    request = convert(client, sales, changed["id"], **body).json()
    client.post(
        f"/v1/trials/{changed['id']}/services",
        json={"remove": ["messaging"]},
        headers=sales.headers,
    )
    r = client.post(
        f"/v1/orders/{request['id']}/decision", json={"approve": True}, headers=dist.headers
    )
    assert (r.status_code, r.json()["rule"]) == (409, "V3")
    assert (
        client.get(f"/v1/trials/{changed['id']}", headers=sales.headers).json()["status"]
        == "active"
    )


def test_the_distributor_can_convert_directly(
    client: TestClient, world: World, tier2: dict[str, Any]
) -> None:
    sales, dist = tier2["sales"], tier2["distributor"]
    trial = start(client, sales)
    body = {
        "services": [{"code": "calling"}, {"code": "messaging"}],
        "provisioning_email": sales.actor.email,
    }
    r = convert(client, dist, trial["id"], **body)
    assert (r.status_code, r.json()["status"]) == (201, "completed")
    tier_one = start(client, world.sales_full)
    assert convert(client, dist, tier_one["id"], **body).status_code == 404  # not its partner


def test_distributor_admins_need_a_distributor(client: TestClient, world: World) -> None:
    r = client.post(
        "/v1/admins",
        json={"email": "d@x.example", "name": "D", "roles": ["distributor"]},
        headers=world.operator.headers,
    )
    assert (r.status_code, r.json()["field"], r.json()["rule"]) == (422, "distributor_id", "V1")
    r = client.post(
        "/v1/admins",
        json={
            "email": "d@x.example",
            "name": "D",
            "roles": ["distributor"],
            "distributor_id": "dst_x",
        },
        headers=world.operator.headers,
    )
    assert (r.status_code, r.json()["field"]) == (422, "distributor_id")


def test_an_own_reach_role_lists_only_its_customers_orders_in_bounded_statements(
    client: TestClient, world: World
) -> None:  # rules P2, P3; issue 11: no statement per order
    order = {
        "services": [{"code": "calling"}, {"code": "messaging"}],
        "provisioning_email": world.sales_full.actor.email,
    }

    def converted(who: Login) -> str:
        trial = start(client, who)
        assert convert(client, world.sales_full, trial["id"], **order).status_code == 201
        return str(trial["id"])

    mine = converted(world.sales)  # sales admins reach the customers they provisioned (P2)

    def listed() -> tuple[list[str], int]:
        with statements(world.ctx.db.engine) as sent:
            got = client.get("/v1/orders", headers=world.sales.headers)
        assert got.status_code == 200, got.text
        return [o["trial_id"] for o in got.json()["items"]], len(sent)

    converted(world.sales_full)
    few = listed()
    for _ in range(3):
        converted(world.sales_full)
    many = listed()
    assert few[0] == many[0] == [mine]
    assert many[1] == few[1]
