"""Issue 3 through the API: consent for existing customers (K1-K7), provisioning (T1, T2),
paid customers (A1), services (S4), extend (T3), delete (T9), timeline, access levels (K3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, make_world, new_customer_body
from tests.support.factories import links, make_org, request_consent
from trialhub.clock import MovableClock
from trialhub.domain.states import TrialStatus
from trialhub.services.kernel.context import Context
from trialhub.store.repositories import Scope

# the database is the subject (what the store keeps of a trial after it starts):
# on SQLite and PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_backends


def outbox(ctx: Context, template: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    with ctx.uow(Scope.system()) as uow:
        return [
            (m.template, m.recipient, dict(m.payload))
            for m in uow.outbox.all()
            if template is None or m.template == template
        ]


def set_status(ctx: Context, trial_id: str, status: TrialStatus, **fields: Any) -> None:
    """Reaches statuses that only time (the worker) reaches in real life."""
    with ctx.uow(Scope.system()) as uow:
        trial = uow.trials.get(trial_id)
        assert trial is not None
        trial.status = status.value
        for k, v in fields.items():
            setattr(trial, k, v)
        uow.commit()


# ---- consent (rules K1-K7) ----------------------------------------------------------------


def test_k1_full_admin_alone_gets_the_link(client: TestClient, world: World) -> None:
    org = make_org(world.ctx, full=("boss@globex.example", "cto@globex.example"))
    request_consent(client, world, org, "boss@globex.example")
    assert set(links(world.ctx)) == {"boss@globex.example"}


def test_k1_non_full_admin_and_every_full_admin(client: TestClient, world: World) -> None:
    org = make_org(
        world.ctx, full=("boss@globex.example", "cto@globex.example"), others=("it@globex.example",)
    )
    trial = request_consent(client, world, org, "it@globex.example")
    assert set(links(world.ctx)) == {
        "it@globex.example",
        "boss@globex.example",
        "cto@globex.example",
    }
    assert trial["status"] == "pending_consent"
    assert trial["status_label"] == "Trial pending customer consent"  # rule K4
    assert trial["consent_deadline"].startswith("2026-03-12T09:00:00")  # rule K6: +10 days
    listed = client.get("/v1/customers", headers=world.sales_full.headers).json()["items"]
    assert [c["status"] for c in listed] == ["pending_consent"]


def test_accept_with_full_admin_access_then_provision(
    client: TestClient, world: World, clock: MovableClock
) -> None:
    org = make_org(world.ctx, full=("boss@globex.example",))
    trial = request_consent(client, world, org, "boss@globex.example")
    token = links(world.ctx)["boss@globex.example"]
    view = client.get(f"/v1/consent/{token}").json()
    assert view["organization"] == "Globex"
    assert view["recipient_is_full_admin"] is True
    assert [p["trial_id"] for p in view["pending_requests"]] == [trial["id"]]  # rule K7
    r = client.post(f"/v1/consent/{token}", json={"decision": "accept", "grant_full_admin": True})
    assert r.status_code == 200
    assert r.json()["status"] == "awaiting_provisioning"
    customer = client.get(
        f"/v1/customers/{trial['customer_id']}", headers=world.sales_full.headers
    ).json()
    assert customer["access"] == "full"  # rule K3
    assert customer["state"] == "active"
    clock.advance(timedelta(days=2))
    r = client.post(f"/v1/trials/{trial['id']}/provision", headers=world.sales_full.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "active"
    assert r.json()["ends_at"].startswith("2026-06-02T09:00:00")  # rule T1: from provisioning
    decided = outbox(world.ctx, "consent_decided")
    assert [(t, p["decision"]) for t, _, p in decided] == [("consent_decided", "accepted")]
    r = client.post(
        f"/v1/customers/{trial['customer_id']}/users",
        json={"email": "new@globex.example", "name": "N"},
        headers=world.sales_full.headers,
    )
    assert r.status_code == 201  # rule K3: full access sets up users
    assert "new@globex.example" in [u["email"] for u in r.json()["users"]]


def test_provisioning_access_cannot_set_up_users(client: TestClient, world: World) -> None:  # K3
    org = make_org(world.ctx, full=("boss@globex.example",))
    trial = request_consent(client, world, org, "boss@globex.example")
    token = links(world.ctx)["boss@globex.example"]
    client.post(f"/v1/consent/{token}", json={"decision": "accept", "grant_full_admin": False})
    assert (
        client.post(
            f"/v1/trials/{trial['id']}/provision", headers=world.sales_full.headers
        ).status_code
        == 200
    )
    r = client.post(
        f"/v1/customers/{trial['customer_id']}/users",
        json={"email": "new@globex.example", "name": "N"},
        headers=world.sales_full.headers,
    )
    assert r.status_code == 403
    assert r.json()["code"] == "provisioning_admin_only"
    assert r.json()["rule"] == "K3"


def test_only_a_full_admin_can_decide(client: TestClient, world: World) -> None:  # rule K2
    org = make_org(world.ctx, full=("boss@globex.example",), others=("it@globex.example",))
    trial = request_consent(client, world, org, "it@globex.example")
    token = links(world.ctx)["it@globex.example"]
    r = client.post(f"/v1/consent/{token}", json={"decision": "accept"})
    assert r.status_code == 403
    assert r.json()["rule"] == "K2"
    got = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert got["status"] == "pending_consent"


def test_used_token_dies(client: TestClient, world: World) -> None:  # rule K2
    org = make_org(world.ctx, full=("boss@globex.example", "cto@globex.example"))
    request_consent(client, world, org, "boss@globex.example")
    token = links(world.ctx)["boss@globex.example"]
    assert client.post(f"/v1/consent/{token}", json={"decision": "accept"}).status_code == 200
    again = client.post(f"/v1/consent/{token}", json={"decision": "decline"})
    assert again.status_code == 410
    assert again.json()["code"] == "consent_used"
    assert client.get(f"/v1/consent/{token}").status_code == 410
    assert client.get("/v1/consent/not-a-token").status_code == 404


def test_expired_token_dies(client: TestClient, world: World, clock: MovableClock) -> None:  # K6
    org = make_org(world.ctx, full=("boss@globex.example",))
    request_consent(client, world, org, "boss@globex.example")
    token = links(world.ctx)["boss@globex.example"]
    clock.advance(timedelta(days=10) - timedelta(seconds=1))
    assert client.get(f"/v1/consent/{token}").status_code == 200
    clock.advance(timedelta(seconds=1))
    r = client.post(f"/v1/consent/{token}", json={"decision": "accept"})
    assert r.status_code == 410
    assert r.json()["code"] == "consent_expired"


def test_cancel_kills_links_and_removes_customer(client: TestClient, world: World) -> None:  # K5
    org = make_org(world.ctx, full=("boss@globex.example",))
    trial = request_consent(client, world, org, "boss@globex.example")
    token = links(world.ctx)["boss@globex.example"]
    assert (
        client.post(f"/v1/trials/{trial['id']}/cancel", headers=world.sales.headers).status_code
        == 404
    )  # not its customer
    r = client.post(f"/v1/trials/{trial['id']}/cancel", headers=world.sales_full.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert (
        client.post(f"/v1/consent/{token}", json={"decision": "accept"}).json()["code"]
        == "consent_cancelled"
    )
    assert client.get("/v1/customers", headers=world.sales_full.headers).json()["items"] == []
    assert (
        client.get(
            f"/v1/customers/{trial['customer_id']}", headers=world.sales_full.headers
        ).status_code
        == 404
    )
    again = client.post(f"/v1/trials/{trial['id']}/cancel", headers=world.sales_full.headers)
    assert again.status_code == 409


def test_decline_ends_at_once(client: TestClient, world: World) -> None:  # rule K6
    org = make_org(world.ctx, full=("boss@globex.example",))
    trial = request_consent(client, world, org, "boss@globex.example")
    token = links(world.ctx)["boss@globex.example"]
    r = client.post(f"/v1/consent/{token}", json={"decision": "decline"})
    assert r.status_code == 200
    got = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert got["status"] == "cancelled"
    assert client.get("/v1/customers", headers=world.sales_full.headers).json()["items"] == []
    # the organization can be asked again later
    assert request_consent(client, world, org, "boss@globex.example")["status"] == "pending_consent"


def test_resend_replaces_links_but_not_the_deadline(
    client: TestClient, world: World, clock: MovableClock
) -> None:  # K5
    org = make_org(world.ctx, full=("boss@globex.example",))
    trial = request_consent(client, world, org, "boss@globex.example")
    old = links(world.ctx)["boss@globex.example"]
    clock.advance(timedelta(days=3))
    r = client.post(f"/v1/trials/{trial['id']}/consent/resend", headers=world.sales_full.headers)
    assert r.status_code == 200
    assert r.json()["consent_deadline"] == trial["consent_deadline"]
    new = links(world.ctx)["boss@globex.example"]
    assert new != old
    assert client.get(f"/v1/consent/{old}").json()["code"] == "consent_cancelled"
    assert client.get(f"/v1/consent/{new}").status_code == 200


def test_second_request_while_pending_is_refused(client: TestClient, world: World) -> None:
    org = make_org(world.ctx, full=("boss@globex.example",))
    request_consent(client, world, org, "boss@globex.example")
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=2)
    body["customer"]["admin_email"] = "boss@globex.example"
    body["confirm_existing_org_id"] = org
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "consent_already_pending"


# ---- rule A1 and S3 -----------------------------------------------------------------------


def test_trial_added_to_paid_customer(client: TestClient, world: World) -> None:
    other = make_world(world.ctx, name="Reseller B")
    org = make_org(
        world.ctx, full=("boss@globex.example",), paid="meetings", partner=other.partner_id
    )
    trial = request_consent(client, world, org, "boss@globex.example")
    client.post(
        f"/v1/consent/{links(world.ctx)['boss@globex.example']}", json={"decision": "accept"}
    )
    client.post(f"/v1/trials/{trial['id']}/provision", headers=world.sales_full.headers)
    customer = client.get(
        f"/v1/customers/{trial['customer_id']}", headers=world.sales_full.headers
    ).json()
    subs = customer["organization"]["subscriptions"]
    assert [(s["service"], s["managing_partner_name"]) for s in subs] == [
        ("meetings", "Reseller B")
    ]
    verdicts = {e["code"]: e for e in customer["eligible_services"]}
    assert verdicts["meetings"]["reason"] == "The customer already purchased this service."
    assert verdicts["calling"]["reason_code"] == "open_trial_own"
    assert verdicts["messaging"]["eligible"]
    add = {
        "customer_id": trial["customer_id"],
        "services": [{"code": "meetings", "edition": "meet"}],
        "user_licenses": 3,
    }
    r = client.post("/v1/trials", json=add, headers=world.sales_full.headers)
    assert r.status_code == 422
    assert r.json()["rule"] == "S3"
    add = {
        "customer_id": trial["customer_id"],
        "services": [{"code": "messaging"}],
        "user_licenses": 3,
    }
    r = client.post("/v1/trials", json=add, headers=world.sales_full.headers)
    assert r.status_code == 201
    assert r.json()["kind"] == "added"
    started = outbox(world.ctx, "trial_started")
    assert {recipient for _, recipient, _ in started} == {"boss@globex.example"}  # rule A1


def test_welcome_email_once_after_provisioning(client: TestClient, world: World) -> None:  # T2
    body = new_customer_body(setup="later")
    trial = client.post("/v1/trials", json=body, headers=world.sales_full.headers).json()
    assert outbox(world.ctx, "welcome") == []
    client.post(f"/v1/trials/{trial['id']}/provision", headers=world.sales_full.headers)
    assert [r for _, r, _ in outbox(world.ctx, "welcome")] == [body["customer"]["admin_email"]]
    again = client.post(f"/v1/trials/{trial['id']}/provision", headers=world.sales_full.headers)
    assert again.status_code == 409
    assert len(outbox(world.ctx, "welcome")) == 1


# ---- services (S4), extend (T3), delete (T9) ------------------------------------------------


def started(client: TestClient, world: World, **kw: Any) -> dict[str, Any]:
    r = client.post("/v1/trials", json=new_customer_body(**kw), headers=world.sales_full.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_add_and_remove_services(client: TestClient, world: World) -> None:  # rule S4
    trial = started(client, world)
    url = f"/v1/trials/{trial['id']}/services"
    h = world.sales_full.headers
    r = client.post(url, json={"add": [{"code": "calling"}], "remove": ["messaging"]}, headers=h)
    assert r.status_code == 200
    active = [s["code"] for s in r.json()["services"] if s["removed_at"] is None]
    assert active == ["meetings", "calling"]
    last = client.post(url, json={"remove": ["meetings", "calling"]}, headers=h)
    assert last.status_code == 422
    assert last.json()["rule"] == "S4"
    assert (
        client.post(url, json={"remove": ["boards"]}, headers=h).json()["errors"][0]["field"]
        == "remove[0]"
    )
    dup = client.post(url, json={"add": [{"code": "calling"}]}, headers=h)
    assert dup.status_code == 422
    assert (
        client.post(
            url, json={"add": [{"code": "messaging"}]}, headers=world.read_only.headers
        ).status_code
        == 403
    )


def test_adding_a_service_another_partner_trials_is_refused(
    client: TestClient, world: World
) -> None:
    other = make_world(world.ctx, name="Rival")
    org = make_org(world.ctx, full=("boss@globex.example",))
    mine = request_consent(client, world, org, "boss@globex.example")
    client.post(
        f"/v1/consent/{links(world.ctx)['boss@globex.example']}", json={"decision": "accept"}
    )
    client.post(f"/v1/trials/{mine['id']}/provision", headers=world.sales_full.headers)
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=2)
    body["customer"]["admin_email"] = "boss@globex.example"
    body["confirm_existing_org_id"] = org
    assert client.post("/v1/trials", json=body, headers=other.sales_full.headers).status_code == 201
    r = client.post(
        f"/v1/trials/{mine['id']}/services",
        json={"add": [{"code": "messaging"}]},
        headers=world.sales_full.headers,
    )
    assert r.status_code == 422
    assert r.json()["rule"] == "S3"
    assert "Another partner" in r.json()["errors"][0]["message"]


def test_extend_adds_30_days_to_the_later_of_end_and_now(
    client: TestClient, world: World, clock: MovableClock
) -> None:
    trial = started(client, world)  # ends 2026-05-31
    clock.advance(timedelta(days=25))  # 65 days left
    r = client.post(
        f"/v1/trials/{trial['id']}/extend",
        json={"reason": "pilot"},
        headers=world.sales_full.headers,
    )
    assert r.status_code == 200
    assert r.json()["ends_at"].startswith("2026-06-30T09:00:00")  # 95 days left (rule T3)
    assert r.json()["days_left"] == 95
    (ext,) = r.json()["extensions"]
    assert ext["reason"] == "pilot"
    assert ext["by_admin_id"] == world.sales_full.actor.admin_id
    # in grace: 30 days from today, and active again
    clock.advance(timedelta(days=100))
    set_status(world.ctx, trial["id"], TrialStatus.EXPIRED)
    r = client.post(f"/v1/trials/{trial['id']}/extend", headers=world.sales_full.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "active"
    assert r.json()["ends_at"].startswith("2026-08-04T09:00:00")  # now (07-05) + 30
    assert len(r.json()["extensions"]) == 2


def test_lapsed_trial_cannot_be_extended(client: TestClient, world: World) -> None:  # rule T7
    trial = started(client, world)
    set_status(world.ctx, trial["id"], TrialStatus.LAPSED)
    r = client.post(f"/v1/trials/{trial['id']}/extend", headers=world.sales_full.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "trial_lapsed"
    assert r.json()["rule"] == "T7"
    assert "cannot be reversed" in r.json()["detail"]


def test_delete_needs_confirmation_and_releases(
    client: TestClient, world: World, clock: MovableClock
) -> None:
    trial = started(client, world, services=[{"code": "meetings"}, {"code": "calling"}])
    url = f"/v1/trials/{trial['id']}"
    r = client.delete(url, headers=world.sales_full.headers)
    assert r.status_code == 422
    assert (r.json()["field"], r.json()["rule"]) == ("confirm", "T9")
    assert client.delete(url + "?confirm=true", headers=world.read_only.headers).status_code == 403
    r = client.delete(url + "?confirm=true", headers=world.sales_full.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "deleted"
    assert r.json()["meetings_site"] is None
    timeline = client.get(url + "/timeline", headers=world.sales_full.headers).json()
    assert [(d["kind"], d["at"][:19]) for d in timeline["deadlines"]] == [
        ("number_release", "2026-03-17T09:00:00")
    ]
    assert "trial.deleted" in [e["action"] for e in timeline["events"]]
    # the site name is free again (rule S2)
    reuse = new_customer_body(
        meetings=trial["meetings_site"]
        and {"site_url": trial["meetings_site"]["url"], "time_zone": "UTC"}
    )
    assert (
        client.post("/v1/trials", json=reuse, headers=world.sales_full.headers).status_code == 201
    )


def test_timeline_lists_past_and_future(client: TestClient, world: World) -> None:
    trial = started(
        client,
        world,
        services=[{"code": "calling"}],
        meetings=None,
        user_licenses=5,
        duration_days=30,
    )
    t = client.get(f"/v1/trials/{trial['id']}/timeline", headers=world.read_only.headers).json()
    assert [e["action"] for e in t["events"]] == ["trial.created", "trial.active"]
    assert [(d["kind"], d["at"][:10]) for d in t["deadlines"]] == [
        ("notice_before_end", "2026-03-25"),
        ("notice_on_end", "2026-04-01"),
        ("end", "2026-04-01"),
        ("user_notice", "2026-05-01"),
        ("grace_end", "2026-05-01"),
        ("number_release", "2026-05-16"),
    ]


@pytest.mark.parametrize("role", ["read_only", "partner_admin"])
def test_roles_that_cannot_edit(client: TestClient, world: World, role: str) -> None:
    trial = started(client, world)
    h = world.login(role).headers
    expected = 403 if role == "read_only" else 404  # partner_admin does not reach it (P2)
    for method, url, body in (
        ("post", f"/v1/trials/{trial['id']}/extend", {}),
        ("post", f"/v1/trials/{trial['id']}/services", {"add": [{"code": "calling"}]}),
        ("delete", f"/v1/trials/{trial['id']}?confirm=true", None),
        ("post", f"/v1/trials/{trial['id']}/provision", {}),
    ):
        r = client.request(method, url, json=body, headers=h)
        assert r.status_code == expected, (url, r.text)


def test_other_partner_cannot_touch_the_trial(client: TestClient, world: World) -> None:  # P3
    trial = started(client, world)
    other = make_world(world.ctx, name="B")
    for url in (f"/v1/trials/{trial['id']}/extend", f"/v1/trials/{trial['id']}/timeline"):
        method = "get" if url.endswith("timeline") else "post"
        assert client.request(method, url, headers=other.sales_full.headers).status_code == 404


def test_the_trials_team_reads_but_does_not_change_trials(client: TestClient, world: World) -> None:
    trial = started(client, world)
    h = world.operator.headers
    assert client.get(f"/v1/trials/{trial['id']}", headers=h).status_code == 200
    assert client.get(f"/v1/trials/{trial['id']}/timeline", headers=h).status_code == 200
    r = client.post(f"/v1/trials/{trial['id']}/extend", headers=h)
    assert r.status_code == 403
    assert r.json()["rule"] == "P2"
