"""Issue 2 through the API, on SQLite and PostgreSQL: starting new-customer trials, the
customer list, roles (P1, P2), tenancy (P3), bad input (E3) and idempotency."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, make_admin, make_world, new_customer_body
from tests.support.list_keys import assert_keys_follow_trials
from trialhub.clock import MovableClock
from trialhub.domain.errors import ValidationFailed
from trialhub.services import customers, lifecycle
from trialhub.services.conversion import orders as conversion
from trialhub.services.customers import organizations as orgs
from trialhub.services.customers.schemas import (
    AddOrgAdmin,
    AddOrgUser,
    AddSubscription,
    CreateOrganization,
)
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.devices import extensions as devices

# the database is the subject (a trial written and listed through the store):
# on SQLite and PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_backends

ROLES = ("sales_full_admin", "sales_admin", "partner_full_admin", "partner_admin", "read_only")


def snapshot(client: TestClient, world: World) -> tuple[Any, Any]:
    """What a failed request must leave untouched: the audit log and the customer list."""
    h = world.operator.headers
    events = client.get("/v1/events?limit=200", headers=h).json()["items"]
    customers = client.get("/v1/customers", headers=world.sales_full.headers).json()["items"]
    return [e["id"] for e in events], customers


def start(client: TestClient, world: World, role: str = "sales_full_admin", **kw: Any) -> Any:
    return client.post(
        "/v1/trials", json=new_customer_body(**kw), headers=world.login(role).headers
    )


# ---- the happy path (rules C1, C2, S1, S2, T1) ----------------------------------------------


def test_start_new_customer_trial_and_read_it_back(client: TestClient, world: World) -> None:
    body = new_customer_body()
    body["customer"]["admin_email"] = "  Ann.Lee@ACME.example "
    body["customer"]["company_name"] = "  Acme   Corp  "
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 201, r.text
    trial = r.json()
    assert trial["status"] == "active"
    assert trial["status_label"] == "Active"
    assert trial["starts_at"].startswith("2026-03-02T09:00:00")
    assert trial["ends_at"].startswith("2026-05-31T09:00:00")  # rule T1: 90 days
    assert [s["code"] for s in trial["services"]] == ["meetings", "messaging"]
    assert {s["quantity"] for s in trial["services"]} == {50}  # rule S1: shared licenses
    assert trial["meetings_site"]["url"] == body["meetings"]["site_url"]
    got = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert got == trial
    customer = client.get(
        f"/v1/customers/{trial['customer_id']}", headers=world.sales_full.headers
    ).json()
    org = customer["organization"]
    assert org["name"] == "Acme Corp"  # rule C1: trimmed
    assert org["admins"][0]["email"] == "ann.lee@acme.example"  # rule C1: lower case
    assert org["region"] == {"code": "EU", "name": "European Union"}  # rule C2
    assert customer["access"] == "full"


@pytest.mark.parametrize("days", [30, 60, 90])
def test_duration_choices(client: TestClient, world: World, days: int) -> None:  # rule T1
    r = start(client, world, duration_days=days)
    assert r.status_code == 201
    ends = {30: "2026-04-01", 60: "2026-05-01", 90: "2026-05-31"}[days]
    assert r.json()["ends_at"].startswith(ends)


def test_only_an_absent_duration_means_the_default(client: TestClient, world: World) -> None:
    # rule T1: 0 is not "no answer", it is a wrong one; the preview says the same as the start
    body = new_customer_body()
    del body["duration_days"]
    assert (
        client.post("/v1/trials/preview", json=body, headers=world.sales_full.headers).json()[
            "duration_days"
        ]
        == 90
    )
    for url in ("/v1/trials/preview", "/v1/trials"):
        r = client.post(
            url, json=new_customer_body(duration_days=0), headers=world.sales_full.headers
        )
        assert r.status_code == 422, r.text
        assert (r.json()["field"], r.json()["rule"]) == ("duration_days", "T1")
    assert client.get("/v1/customers", headers=world.sales_full.headers).json()["items"] == []


def test_setup_later_waits_for_provisioning(client: TestClient, world: World) -> None:
    r = start(client, world, setup="later")  # rule T1
    assert r.status_code == 201
    assert r.json()["status"] == "awaiting_provisioning"
    assert r.json()["status_label"] == "Awaiting provisioning details"  # rule K4
    assert r.json()["ends_at"] is None


def test_preview_shows_region_and_writes_nothing(client: TestClient, world: World) -> None:
    before = snapshot(client, world)
    body = new_customer_body()
    body["customer"]["country"] = "gb"
    r = client.post("/v1/trials/preview", json=body, headers=world.sales_full.headers)
    assert r.status_code == 200
    assert r.json()["region"] == {"code": "UK", "name": "United Kingdom"}  # rule C2
    assert r.json()["flow"] == "new_customer"
    assert r.json()["needs_confirmation"] is False
    assert snapshot(client, world) == before


# ---- rules C3 and C4 ----------------------------------------------------------------------


def test_existing_organization_needs_confirmation(client: TestClient, world: World) -> None:
    ctx = world.ctx
    org = orgs.create_organization(
        ctx, SYSTEM_OPERATOR, CreateOrganization(name="Globex", country="JP")
    )
    orgs.add_org_admin(
        ctx, SYSTEM_OPERATOR, org.id, AddOrgAdmin(email="boss@globex.example", name="B")
    )
    body = new_customer_body()
    body["customer"]["admin_email"] = "boss@globex.example"
    preview = client.post("/v1/trials/preview", json=body, headers=world.sales_full.headers).json()
    assert preview["existing_organization"]["name"] == "Globex"  # rule C3
    assert preview["existing_organization"]["region"]["code"] == "JP"
    assert preview["needs_confirmation"] is True
    before = snapshot(client, world)
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 422
    assert r.json()["rule"] == "C3"
    assert r.json()["field"] == "confirm_existing_org_id"
    assert snapshot(client, world) == before


def test_free_account_is_warned_then_moved(client: TestClient, world: World) -> None:  # rule C3
    ctx = world.ctx
    free = orgs.create_organization(
        ctx, SYSTEM_OPERATOR, CreateOrganization(name="Free", country="US", kind="free")
    )
    orgs.add_org_user(
        ctx, SYSTEM_OPERATOR, free.id, AddOrgUser(email="casey@gmail.example", name="C")
    )
    body = new_customer_body()
    body["customer"]["admin_email"] = "casey@gmail.example"
    preview = client.post("/v1/trials/preview", json=body, headers=world.sales_full.headers).json()
    assert any("free Webex account" in w for w in preview["warnings"])
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 201
    org = client.get(f"/v1/organizations/{r.json()['org_id']}", headers=world.operator.headers)
    assert [u["email"] for u in org.json()["users"]] == ["casey@gmail.example"]
    left = client.get(f"/v1/organizations/{free.id}", headers=world.operator.headers).json()
    assert left["users"] == []


def test_email_of_own_customer_points_at_adding_a_trial(client: TestClient, world: World) -> None:
    first = start(client, world).json()
    admin = client.get(
        f"/v1/customers/{first['customer_id']}", headers=world.sales_full.headers
    ).json()["organization"]["admins"][0]["email"]
    body = new_customer_body()
    body["customer"]["admin_email"] = admin
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 409
    assert r.json()["rule"] == "C4"
    assert r.json()["code"] == "already_a_customer"


# ---- rule S3 ------------------------------------------------------------------------------


def test_eligibility_names_purchased_and_other_partners_trials(
    client: TestClient, world: World
) -> None:
    ctx = world.ctx
    other = make_world(ctx, name="Other")
    org = orgs.create_organization(
        ctx, SYSTEM_OPERATOR, CreateOrganization(name="Initech", country="US")
    )
    orgs.add_org_admin(
        ctx, SYSTEM_OPERATOR, org.id, AddOrgAdmin(email="bill@initech.example", name="B")
    )
    orgs.add_subscription(
        ctx,
        SYSTEM_OPERATOR,
        org.id,
        AddSubscription(service="meetings", partner_id=other.partner_id),
    )
    body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=5)
    body["customer"]["admin_email"] = "bill@initech.example"
    body["confirm_existing_org_id"] = org.id
    # the partner that manages Meetings has Initech in its list and adds the trial (rule A1)
    [managed] = client.get("/v1/customers", headers=other.sales_full.headers).json()["items"]
    added = {"customer_id": managed["id"], "services": [{"code": "calling"}], "user_licenses": 5}
    assert (
        client.post("/v1/trials", json=added, headers=other.sales_full.headers).status_code == 201
    )
    preview = client.post("/v1/trials/preview", json=body, headers=world.sales_full.headers).json()
    verdicts = {s["code"]: s for s in preview["services"]}
    assert verdicts["meetings"]["reason_code"] == "purchased"
    assert verdicts["calling"]["reason_code"] == "open_trial_other"
    assert verdicts["messaging"]["eligible"] is True
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 422
    assert r.json()["rule"] == "S3"
    assert r.json()["errors"][0]["field"] == "services[0].code"


# ---- bad input: every field of the form (rule E3) -----------------------------------------


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node = out
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


class _Delete:
    """Marks a key to remove from the body; a stable repr keeps test ids equal across
    pytest-xdist workers."""

    def __repr__(self) -> str:
        return "<deleted>"


DELETE = _Delete()

BAD_INPUT = [
    ("customer.company_name", "", "customer.company_name", "C1"),
    ("customer.company_name", "x" * 51, "customer.company_name", "C1"),
    ("customer.company_name", 42, "customer.company_name", "C1"),
    ("customer.admin_email", "not-an-email", "customer.admin_email", "C1"),
    ("customer.admin_email", DELETE, "customer.admin_email", "C1"),
    ("customer.business_vertical", "astrology", "customer.business_vertical", "C1"),
    ("customer.country", "ZZ", "customer.country", "C1"),
    ("customer.country", "CU", "customer.country", "C1"),
    ("customer.supported_location_ack", False, "customer.supported_location_ack", "C1"),
    ("customer.supported_location_ack", DELETE, "customer.supported_location_ack", "C1"),
    ("customer.nickname", "x", "customer.nickname", "C1"),
    ("services", [], "services", "S1"),
    ("services", [{"code": "fax"}], "services[0].code", "S1"),
    ("services", [{"code": "messaging"}, {"code": "messaging"}], "services[1].code", "S1"),
    ("services.0.edition", "platinum", "services[0].edition", "S2"),
    ("services", [{"code": "room_devices", "quantity": 0}], "services[0].quantity", "S1"),
    ("services", [{"code": "boards", "quantity": 21}], "services[0].quantity", "S1"),
    ("user_licenses", 0, "user_licenses", "S1"),
    ("user_licenses", 1000, "user_licenses", "S1"),
    ("user_licenses", DELETE, "user_licenses", "S1"),
    ("user_licenses", "many", "user_licenses", "S1"),
    ("duration_days", 45, "duration_days", "T1"),
    ("duration_days", 0, "duration_days", "T1"),
    ("duration_days", -90, "duration_days", "T1"),
    ("meetings.site_url", "-bad-", "meetings.site_url", "S2"),
    ("meetings.site_url", "acme.example.com", "meetings.site_url", "S2"),
    ("meetings.time_zone", "Mars/Olympus", "meetings.time_zone", "S2"),
    ("meetings", DELETE, "meetings.site_url", "S2"),
    ("setup", "someday", "setup", "T1"),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "rule"),
    BAD_INPUT,
    ids=[f"{p}={v!r}"[:60] for p, v, _, _ in BAD_INPUT],
)
def test_bad_input_names_field_and_rule_and_writes_nothing(
    sqlite_client: TestClient, sqlite_world: World, path: str, value: Any, field: str, rule: str
) -> None:
    """Request validation, before any database: on SQLite (the next test sends a few on
    PostgreSQL too)."""
    _refused_and_nothing_written(sqlite_client, sqlite_world, path, value, field, rule)


@pytest.mark.parametrize(
    ("path", "value", "field", "rule"),
    [BAD_INPUT[0], BAD_INPUT[7], BAD_INPUT[-1]],
    ids=["company", "country", "setup"],
)
def test_bad_input_writes_nothing_on_each_backend(
    client: TestClient, world: World, path: str, value: Any, field: str, rule: str
) -> None:
    _refused_and_nothing_written(client, world, path, value, field, rule)


def _refused_and_nothing_written(
    client: TestClient, world: World, path: str, value: Any, field: str, rule: str
) -> None:
    before = snapshot(client, world)
    body = _set(new_customer_body(), path, value)
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert field in [e["field"] for e in problem["errors"]]
    assert rule in [e["rule"] for e in problem["errors"]]
    assert problem["code"] == "validation_failed"
    assert snapshot(client, world) == before


def test_site_name_taken(client: TestClient, world: World) -> None:  # rule S2
    first = new_customer_body()
    assert (
        client.post("/v1/trials", json=first, headers=world.sales_full.headers).status_code == 201
    )
    again = new_customer_body(meetings=first["meetings"])
    r = client.post("/v1/trials", json=again, headers=world.sales_full.headers)
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "meetings.site_url",
            "message": "That Meetings site name is already taken.",
            "rule": "S2",
        }
    ]


def test_not_json_is_a_clear_422(client: TestClient, world: World) -> None:
    r = client.post(
        "/v1/trials",
        content=b"{not json",
        headers={**world.sales_full.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"


# ---- roles (rules P1, P2) and tenancy (rule P3) -------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_who_may_start_a_trial(client: TestClient, world: World, role: str) -> None:
    r = start(client, world, role=role)
    if role in ("sales_full_admin", "sales_admin"):
        assert r.status_code == 201
    else:
        assert r.status_code == 403
        assert r.json()["rule"] == "P2"
    r = client.post(
        "/v1/trials/preview", json=new_customer_body(), headers=world.login(role).headers
    )
    assert r.status_code == (200 if role.startswith("sales") else 403)


@pytest.mark.parametrize("role", ROLES)
def test_who_reads_which_customers(client: TestClient, world: World, role: str) -> None:
    mine = start(client, world, role="sales_admin").json()
    theirs = start(client, world, role="sales_full_admin").json()
    r = client.get("/v1/customers", headers=world.login(role).headers)
    assert r.status_code == 200
    seen = {c["id"] for c in r.json()["items"]}
    if role in ("partner_admin",):
        assert seen == set()  # provisioned or assigned none (rule P2)
    elif role == "sales_admin":
        assert seen == {mine["customer_id"]}
        other = client.get(f"/v1/customers/{theirs['customer_id']}", headers=world.sales.headers)
        assert other.status_code == 404
        assert (
            client.get(f"/v1/trials/{theirs['id']}", headers=world.sales.headers).status_code == 404
        )
    else:
        assert seen == {mine["customer_id"], theirs["customer_id"]}


def test_uncertified_partner_reads_but_cannot_write(client: TestClient, world: World) -> None:
    w = make_world(world.ctx, name="Uncertified", certified=False)
    r = client.post("/v1/trials", json=new_customer_body(), headers=w.sales_full.headers)
    assert r.status_code == 403
    assert r.json()["rule"] == "P1"
    assert r.json()["code"] == "partner_not_certified"
    assert client.get("/v1/customers", headers=w.sales_full.headers).status_code == 200
    assert client.get("/v1/me", headers=w.sales_full.headers).json()["can_start_trials"] is False


def test_other_partner_gets_404_and_no_data(client: TestClient, world: World) -> None:  # P3
    trial = start(client, world).json()
    other = make_world(world.ctx, name="Partner B")
    for url in (f"/v1/trials/{trial['id']}", f"/v1/customers/{trial['customer_id']}"):
        r = client.get(url, headers=other.sales_full.headers)
        assert r.status_code == 404
        assert trial["org_id"] not in r.text
    assert client.get("/v1/customers", headers=other.sales_full.headers).json()["items"] == []
    events = client.get("/v1/events", headers=other.sales_full.headers).json()["items"]
    assert all(e["trial_id"] != trial["id"] for e in events)
    r = client.post(
        "/v1/trials",
        json={
            "customer_id": trial["customer_id"],
            "services": [{"code": "calling"}],
            "user_licenses": 1,
        },
        headers=other.sales_full.headers,
    )
    assert r.status_code == 404


def test_authentication(client: TestClient, world: World) -> None:
    assert client.get("/v1/me").status_code == 401
    r = client.get("/v1/me", headers={"Authorization": "Bearer th_nope"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    me = client.get("/v1/me", headers=world.sales.headers).json()
    assert me["roles"] == ["sales_admin"]
    assert me["reach"]["read_customers"] == "own"


OPERATOR_CALLS = [
    ("post", "/v1/partners", {"name": "P"}),
    ("post", "/v1/organizations", {"name": "O", "country": "US"}),
    ("post", "/v1/admins", {"email": "op2@x.example", "name": "Op", "roles": ["operator"]}),
]


@pytest.mark.parametrize(("method", "url", "body"), OPERATOR_CALLS)
def test_operator_only_calls(
    client: TestClient, world: World, method: str, url: str, body: Any
) -> None:
    for role in ROLES:
        r = client.request(method, url, json=body, headers=world.login(role).headers)
        assert r.status_code == 403, (role, r.text)
    r = client.request(method, url, json=body, headers=world.operator.headers)
    assert r.status_code == 201


def test_partner_full_admins_manage_their_own_admins(client: TestClient, world: World) -> None:
    body = {"email": "new@partner.example", "name": "New", "roles": ["partner_admin"]}
    url = f"/v1/partners/{world.partner_id}/admins"
    assert client.post(url, json=body, headers=world.sales.headers).status_code == 403
    r = client.post(url, json=body, headers=world.partner_full.headers)
    assert r.status_code == 201
    new_id = r.json()["id"]
    # tokens only for oneself (rule P2): the trials team hands the new administrator its first
    mint = f"/v1/admins/{new_id}/tokens"
    assert client.post(mint, json={}, headers=world.partner_full.headers).status_code == 403
    token = client.post(mint, json={}, headers=world.operator.headers)
    assert token.status_code == 201
    assert token.json()["token"].startswith("th_")
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {token.json()['token']}"})
    assert me.json()["admin"]["email"] == "new@partner.example"
    other = make_world(world.ctx, name="B")
    r = client.post(
        f"/v1/partners/{other.partner_id}/admins", json=body, headers=world.partner_full.headers
    )
    assert r.status_code == 404  # rule P3
    escalate = {"email": "op@x.example", "name": "Op", "roles": ["operator"]}
    assert client.post(url, json=escalate, headers=world.partner_full.headers).status_code == 403


# ---- idempotency ---------------------------------------------------------------------------


def test_same_idempotency_key_creates_one_trial(client: TestClient, world: World) -> None:
    body = new_customer_body()
    h = {**world.sales_full.headers, "Idempotency-Key": "start-1"}
    first = client.post("/v1/trials", json=body, headers=h)
    second = client.post("/v1/trials", json=body, headers=h)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(client.get("/v1/customers", headers=world.sales_full.headers).json()["items"]) == 1
    other = client.post("/v1/trials", json=new_customer_body(), headers=h)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_an_error_is_replayed_and_keys_are_per_admin(client: TestClient, world: World) -> None:
    bad = new_customer_body(duration_days=45)
    h = {**world.sales_full.headers, "Idempotency-Key": "k"}
    assert client.post("/v1/trials", json=bad, headers=h).status_code == 422
    replay = client.post("/v1/trials", json=bad, headers=h)
    assert replay.status_code == 422
    assert replay.headers["idempotent-replayed"] == "true"
    good = client.post(
        "/v1/trials",
        json=new_customer_body(),
        headers={**world.sales.headers, "Idempotency-Key": "k"},
    )
    assert good.status_code == 201


# ---- the customer list ---------------------------------------------------------------------


def test_customer_list_sorts_filters_and_pages(client: TestClient, world: World) -> None:
    h = world.sales_full.headers
    names = []
    for days, name in ((90, "Zeta"), (30, "Alpha"), (60, "Mid"), (30, "Beta")):
        body = new_customer_body(duration_days=days)
        body["customer"]["company_name"] = name
        assert client.post("/v1/trials", json=body, headers=h).status_code == 201
        names.append(name)
    later = new_customer_body(setup="later")
    later["customer"]["company_name"] = "Waiting"
    client.post("/v1/trials", json=later, headers=h)
    everyone = client.get("/v1/customers", headers=h).json()["items"]
    assert [c["name"] for c in everyone] == ["Alpha", "Beta", "Mid", "Zeta", "Waiting"]
    pages, cursor = [], None
    while True:
        url = "/v1/customers?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=h).json()
        pages.append([c["name"] for c in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["Alpha", "Beta"], ["Mid", "Zeta"], ["Waiting"]]
    q = client.get("/v1/customers?text=et", headers=h).json()["items"]
    assert [c["name"] for c in q] == ["Beta", "Zeta"]
    soon = client.get("/v1/customers?expiring_within_days=45", headers=h).json()["items"]
    assert [c["name"] for c in soon] == ["Alpha", "Beta"]
    waiting = client.get("/v1/customers?status=awaiting_provisioning", headers=h).json()["items"]
    assert [c["name"] for c in waiting] == ["Waiting"]
    for bad in ("cursor=%%%", "status=sleepy", "limit=0"):
        r = client.get(f"/v1/customers?{bad}", headers=h)
        assert r.status_code == 422
        assert r.json()["field"] == bad.split("=")[0]


def test_the_status_filter_follows_each_trial_through_its_life(
    client: TestClient, world: World, clock: MovableClock
) -> None:
    """Decision 0019: `status=` walks rows the commit hook keeps; each move of a trial
    (provisioning, the worker's expiry, a deletion) moves its customer between the lists,
    pages included, and `expiring_within_days=` follows the active ones."""
    h = world.sales_full.headers

    def listed(query: str) -> list[str]:
        names, cursor = [], None
        while True:
            url = f"/v1/customers?limit=1&{query}" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(url, headers=h).json()
            names.extend(c["name"] for c in page["items"])
            if (cursor := page["next_cursor"]) is None:
                return names

    made = {}
    for name, setup in (("Alpha", "now"), ("Waiting", "later"), ("Gamma", "now")):
        body = new_customer_body(setup=setup, duration_days=30)
        body["customer"]["company_name"] = name
        made[name] = client.post("/v1/trials", json=body, headers=h).json()["id"]
    assert listed("status=active") == ["Alpha", "Gamma"]
    assert listed("status=awaiting_provisioning") == ["Waiting"]
    clock.advance(timedelta(days=10))
    r = client.post(f"/v1/trials/{made['Waiting']}/provision", headers=h)
    assert r.status_code == 200, r.text
    assert listed("status=awaiting_provisioning") == []
    assert listed("status=active") == ["Alpha", "Gamma", "Waiting"]  # Waiting ends last
    assert listed("expiring_within_days=25") == ["Alpha", "Gamma"]
    r = client.delete(f"/v1/trials/{made['Gamma']}?confirm=true", headers=h)
    assert r.status_code == 200, r.text
    assert listed("status=active") == ["Alpha", "Waiting"]
    assert listed(f"status={r.json()['status']}") == ["Gamma"]
    clock.advance(timedelta(days=21))  # Alpha's end has passed, not Waiting's
    lifecycle.tick(world.ctx)
    assert listed("status=expired") == ["Alpha"]
    assert listed("status=active") == ["Waiting"]
    assert listed("expiring_within_days=30") == ["Waiting"]
    assert_keys_follow_trials(world.ctx.db.engine)


def test_a_page_size_of_zero_is_refused_not_defaulted(sqlite_world: World) -> None:  # E3
    listings = (
        customers.list_customers,
        customers.list_events,
        conversion.list_orders,
        devices.list_extension_requests,
    )
    for listing in listings:
        with pytest.raises(ValidationFailed) as info:
            listing(sqlite_world.ctx, sqlite_world.sales_full.actor, limit=0)
        assert info.value.field == "limit"


def test_every_change_is_in_the_audit_log(client: TestClient, world: World) -> None:  # rule E1
    trial = start(client, world).json()
    events = client.get(f"/v1/events?trial_id={trial['id']}", headers=world.sales_full.headers)
    actions = [e["action"] for e in events.json()["items"]]
    assert actions == ["trial.created", "trial.active"]
    assert {e["actor_label"] for e in events.json()["items"]} == {world.sales_full.actor.email}
    everything = client.get("/v1/events?limit=200", headers=world.sales_full.headers).json()
    kinds = [e["action"] for e in everything["items"]]
    assert {"organization.created", "customer.added", "trial.created"} <= set(kinds)


def test_catalog(client: TestClient, world: World) -> None:
    c = client.get("/v1/catalog", headers=world.read_only.headers).json()
    countries = {k["code"]: k for k in c["countries"]}
    assert len(countries) == 249
    assert countries["FR"]["region"] == "EU"
    assert countries["BR"]["region"] == "US"
    assert not countries["KP"]["supported"]
    assert "Europe/Paris" in c["time_zones"]
    assert "US/Pacific" not in c["time_zones"]
    assert c["trial_durations_days"] == [30, 60, 90]
    assert c["default_trial_duration_days"] == 90
    assert len(c["business_verticals"]) == 15


def test_admin_token_for_another_partner_admin_is_refused(client: TestClient, world: World) -> None:
    other = make_admin(world.ctx, partner_id=world.partner_id, roles=("read_only",))
    r = client.post(
        f"/v1/admins/{other.actor.admin_id}/tokens", json={}, headers=world.sales.headers
    )
    assert r.status_code == 403
    own = client.post(
        f"/v1/admins/{world.sales.actor.admin_id}/tokens", json={}, headers=world.sales.headers
    )
    assert own.status_code == 201


def test_assigning_a_customer_extends_an_own_reach_role(client: TestClient, world: World) -> None:
    trial = start(client, world).json()  # provisioned by the sales full administrator
    cid = trial["customer_id"]
    h = world.partner_admin.headers
    assert client.get(f"/v1/customers/{cid}", headers=h).status_code == 404  # rule P2
    body = {"admin_id": world.partner_admin.actor.admin_id}
    refused = client.post(
        f"/v1/customers/{cid}/assignments", json=body, headers=world.sales.headers
    )
    assert refused.status_code == 403
    r = client.post(
        f"/v1/customers/{cid}/assignments", json=body, headers=world.partner_full.headers
    )
    assert r.status_code == 200
    assert r.json()["assigned_admin_ids"] == [world.partner_admin.actor.admin_id]
    assert client.get(f"/v1/customers/{cid}", headers=h).status_code == 200
    assert [c["id"] for c in client.get("/v1/customers", headers=h).json()["items"]] == [cid]
    assert client.post(f"/v1/trials/{trial['id']}/extend", headers=h).status_code == 200
    other = make_world(world.ctx, name="B")
    foreign = {"admin_id": other.sales.actor.admin_id}
    r = client.post(
        f"/v1/customers/{cid}/assignments", json=foreign, headers=world.partner_full.headers
    )
    assert r.status_code == 404
    gone = client.delete(
        f"/v1/customers/{cid}/assignments/{world.partner_admin.actor.admin_id}",
        headers=world.partner_full.headers,
    )
    assert gone.json()["assigned_admin_ids"] == []
    assert client.get(f"/v1/customers/{cid}", headers=h).status_code == 404
    actions = [
        e["action"]
        for e in client.get("/v1/events?limit=200", headers=world.partner_full.headers).json()[
            "items"
        ]
    ]
    assert {"customer.assigned", "customer.unassigned"} <= set(actions)  # rule E1
