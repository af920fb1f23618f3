"""Counting the statements of every page and API list as the data grows (issue 11, goal 4).

A `Census` is one partner's data, grown unit by unit through the API, and the paths to
count. Each unit adds to every list a page or endpoint shows: a customer with its trial
(extended, devices ordered and shipped, more device time asked; every other one converted
to a paid order), a trial added to and deleted from one customer (that customer's history
grows), an administrator, an API token, a webhook delivery, audit events and emails in the
local mailbox. The subjects of the detail pages (one customer, one trial, one shipment,
one webhook endpoint, one consent link, one email) stay the same as the rest grows.

`tests/web` and `tests/api` count at two sizes and assert equal counts; the benchmark
`benchmarks/goal_statements.py` does the same at S and 10 x S.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from tests.support.apps import app_for
from tests.support.factories import (
    Login,
    dispatch_body,
    links,
    make_admin,
    make_partner,
    new_customer_body,
    order_body,
)
from tests.support.statements import statements
from trialhub.notify.mailbox import MailboxMailer
from trialhub.services.customers import organizations as orgs
from trialhub.services.customers.schemas import AddOrgAdmin, CreateOrganization
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.kernel.context import Context
from trialhub.store import tables

PASSWORD = "census password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Census:
    ctx: Context
    api: TestClient
    portal: TestClient  # signed in as the sales administrator
    ops_portal: TestClient  # signed in as the trials team
    sales: Login
    operator: Login
    partner_id: str
    ids: dict[str, str] = field(default_factory=dict)
    units: int = 0

    def post(self, path: str, body: dict[str, Any], who: Login | None = None) -> Any:
        r = self.api.post(path, json=body, headers=(who or self.sales).headers)
        assert r.status_code in (200, 201), (path, r.text)
        return r.json()


def open_census(ctx: Context) -> Census:
    """A partner, its sales administrator, the trials team, and the fixed subjects."""
    # the local mailbox is served (as in a demo or sandbox): its pages are counted too
    ctx = replace(ctx, mailer=MailboxMailer(ctx.db, ctx.clock), local_mailbox=True)
    ctx.webhook_allow_loopback = True
    pid = make_partner(ctx, name="Census Partner")
    sales = make_admin(ctx, partner_id=pid, email="census@partner.example", password=PASSWORD)
    operator = make_admin(
        ctx, partner_id=None, roles=("operator",), email="ops@census.example", password=PASSWORD
    )
    app = app_for(ctx)
    census = Census(
        ctx,
        TestClient(app),
        _signed_in(TestClient(app), sales),
        _signed_in(TestClient(app), operator),
        sales,
        operator,
        pid,
    )
    _fixed_subjects(census)
    return census


def _signed_in(client: TestClient, login: Login) -> TestClient:
    token = _CSRF.search(client.get("/signin").text)
    assert token is not None
    form = {"email": login.actor.email, "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/signin", data=form, follow_redirects=False).status_code == 303
    return client


def _fixed_subjects(c: Census) -> None:
    """The customer whose history grows, the trial whose pages are counted, a webhook
    endpoint, a consent link waiting for its answer, one email in the mailbox."""
    big = c.post("/v1/trials", _start_body(services=[{"code": "calling"}]))
    c.ids |= {"customer": big["customer_id"], "trial": big["id"], "org": big["org_id"]}
    c.ids["org_admin"] = _org_admin(c, big["customer_id"])
    shipment = c.post(f"/v1/trials/{big['id']}/shipments", order_body())
    c.ids["shipment"] = shipment["id"]
    hook = {"url": "https://hooks.census.example/in", "event_types": ["*"]}
    c.ids["endpoint"] = c.post("/v1/webhooks", hook)["id"]
    c.ids["admin"] = c.sales.actor.admin_id or ""
    pending = c.post("/v1/trials", _start_body(setup="later"))
    c.ids["pending"] = pending["id"]
    # an existing organization's administrator is asked (rule K2): the link in the email
    boss = "boss@census-org.example"
    org = orgs.create_organization(
        c.ctx, SYSTEM_OPERATOR, CreateOrganization(name="Census Org", country="DE")
    ).id
    orgs.add_org_admin(c.ctx, SYSTEM_OPERATOR, org, AddOrgAdmin(email=boss, name="Boss"))
    asked = _start_body(confirm_existing_org_id=org)
    asked["customer"]["admin_email"] = boss
    c.post("/v1/trials", asked)
    c.ids["consent"] = links(c.ctx)[boss]  # delivered to the local mailbox
    with c.ctx.db.engine.connect() as conn:
        c.ids["mail"] = str(conn.execute(text("select min(id) from mailbox")).scalar_one())


def _org_admin(c: Census, customer_id: str) -> str:
    detail = c.api.get(f"/v1/customers/{customer_id}", headers=c.sales.headers).json()
    return str(detail["organization"]["admins"][0]["email"])


def _start_body(**kw: Any) -> dict[str, Any]:
    body = new_customer_body(
        services=[{"code": "calling"}, {"code": "messaging"}], meetings=None, user_licenses=5
    )
    body.update(kw)
    return body


def grow(c: Census, units: int) -> None:
    """`units` more of everything the pages and lists show."""
    for _ in range(units):
        _one_unit(c)
    links(c.ctx)  # the emails go to the local mailbox


def _one_unit(c: Census) -> None:
    i = c.units = c.units + 1
    devices = [{"code": "room_devices", "quantity": 2}, {"code": "calling"}]
    trial = c.post("/v1/trials", _start_body(services=devices))
    tid = trial["id"]
    # rule D1: a partner has a bounded number of device trials at once (the fixed one too)
    if i < c.ctx.policy.max_active_device_trials_per_partner:
        shipment = c.post(f"/v1/trials/{tid}/shipments", order_body())
        serial = f"C{uuid.uuid4().hex[:10]}"
        dispatch = dispatch_body(serial, serial + "B")  # the order is for two phones
        c.post(f"/v1/shipments/{shipment['id']}/dispatch", dispatch, c.operator)
        asked = {"requested_end": trial["ends_at"][:10] + "T12:00:00Z"}
        c.post(f"/v1/trials/{tid}/device-extension-requests", asked)
    if i % 2:
        email = _org_admin(c, trial["customer_id"])
        order = {"services": devices, "provisioning_email": email}
        c.ids.setdefault("order", c.post(f"/v1/trials/{tid}/convert", order)["id"])
    # the fixed customer's history grows by a trial started, extended and deleted
    added = {"customer_id": c.ids["customer"], "services": [{"code": "messaging"}]}
    more = c.post("/v1/trials", {**added, "user_licenses": 5})
    c.post(f"/v1/trials/{more['id']}/extend", {})
    gone = c.api.request(
        "DELETE", f"/v1/trials/{more['id']}", params={"confirm": "true"}, headers=c.sales.headers
    )
    assert gone.status_code == 200, gone.text
    make_admin(c.ctx, partner_id=c.partner_id, email=f"more{i}@partner.example")
    c.post(f"/v1/admins/{c.ids['admin']}/tokens", {"label": f"token {i}"})
    _webhook_delivery(c)


def _webhook_delivery(c: Census) -> None:
    """A delivery attempt as the webhook lane records it (no endpoint is reachable here)."""
    with c.ctx.db.engine.begin() as conn:
        conn.execute(
            insert(tables.webhook_deliveries),
            {
                "outbox_id": c.units,
                "endpoint_id": c.ids["endpoint"],
                "attempted_at": c.ctx.now() + timedelta(seconds=c.units),
                "success": True,
                "status_code": 200,
                "duration_ms": 12,
            },
        )


def api_paths(c: Census) -> dict[str, tuple[str, Login]]:
    """Every API list (and the reads that hold a list), with who reads it."""
    i, s, o = c.ids, c.sales, c.operator
    return {
        "GET /v1/customers": ("/v1/customers", s),
        "GET /v1/customers?status=active": ("/v1/customers?status=active", s),
        "GET /v1/customers?text=Acme": ("/v1/customers?text=Acme", s),
        "GET /v1/customers?expiring_within_days=120": (
            "/v1/customers?expiring_within_days=120",
            s,
        ),
        "GET /v1/customers/{id}": (f"/v1/customers/{i['customer']}", s),
        "GET /v1/organizations/{id}": (f"/v1/organizations/{i['org']}", o),
        "GET /v1/trials/{id}": (f"/v1/trials/{i['trial']}", s),
        "GET /v1/trials/{id}/timeline": (f"/v1/trials/{i['trial']}/timeline", s),
        "GET /v1/trials/{id}/shipments": (f"/v1/trials/{i['trial']}/shipments", s),
        "GET /v1/shipments/{id}": (f"/v1/shipments/{i['shipment']}", s),
        "GET /v1/events": ("/v1/events", s),
        "GET /v1/activity": ("/v1/activity", s),
        "GET /v1/orders": ("/v1/orders", s),
        "GET /v1/orders/{id}": (f"/v1/orders/{i.get('order', 'none')}", s),
        "GET /v1/demo-orders": (
            f"/v1/demo-orders?org_id={i['org']}&admin_email={quote(i['org_admin'])}",
            o,
        ),
        "GET /v1/device-extension-requests": ("/v1/device-extension-requests", o),
        "GET /v1/device-extension-requests (partner)": ("/v1/device-extension-requests", s),
        "GET /v1/admins/{id}/tokens": (f"/v1/admins/{i['admin']}/tokens", s),
        "GET /v1/partners/{id}/admins": (f"/v1/partners/{c.partner_id}/admins", s),
        "GET /v1/webhooks": ("/v1/webhooks", s),
        "GET /v1/webhooks/{id}/deliveries": (f"/v1/webhooks/{i['endpoint']}/deliveries", s),
        "GET /v1/consent/{token}": (f"/v1/consent/{i['consent']}", s),
        "GET /v1/catalog": ("/v1/catalog", s),
        "GET /v1/me": ("/v1/me", s),
        "GET /v1/worker/status": ("/v1/worker/status", o),
    }


def page_paths(c: Census) -> dict[str, tuple[str, str]]:
    """Every page of the portal, with who reads it ("sales", "ops" or "anyone")."""
    i = c.ids
    t = f"/trials/{i['trial']}"
    return {
        "/": ("/", "sales"),
        "/customers": ("/customers", "sales"),
        "/customers?status=active": ("/customers?status=active", "sales"),
        "/customers/{id}": (f"/customers/{i['customer']}", "sales"),
        "/customers/{id}/trials/new": (f"/customers/{i['customer']}/trials/new", "sales"),
        "/activity": ("/activity", "sales"),
        "/devices/extension-requests": ("/devices/extension-requests", "ops"),
        "/settings": ("/settings", "sales"),
        "/settings/webhooks/{id}": (f"/settings/webhooks/{i['endpoint']}", "sales"),
        "/trials/new": ("/trials/new", "sales"),
        "/trials/{id}/devices": (f"{t}/devices", "sales"),
        "/trials/{id}/services": (f"{t}/services", "sales"),
        "/trials/{id}/convert": (f"{t}/convert", "sales"),
        "/trials/{id}/delete": (f"{t}/delete", "sales"),
        "/trials/{id}/started": (f"{t}/started", "sales"),
        "/trials/{id}/provision": (f"/trials/{i['pending']}/provision", "sales"),
        "/consent/{token}": (f"/consent/{i['consent']}", "anyone"),
        "/mailbox": ("/mailbox", "anyone"),
        "/mailbox/{id}": (f"/mailbox/{i['mail']}", "anyone"),
        "/docs": ("/docs", "anyone"),
        "/signin": ("/signin", "anyone"),
    }


def count_api(c: Census) -> dict[str, int]:
    out = {}
    for name, (path, who) in api_paths(c).items():
        c.api.get(path, headers=who.headers)  # once before: caches warm, as in use
        with statements(c.ctx.db.engine) as sent:
            r = c.api.get(path, headers=who.headers)
        assert r.status_code == 200, (name, r.status_code, r.text[:300])
        out[name] = len(sent)
    return out


def count_pages(c: Census) -> dict[str, int]:
    clients = {"sales": c.portal, "ops": c.ops_portal, "anyone": c.api}
    out = {}
    for name, (path, who) in page_paths(c).items():
        # once before: a portal session is touched once a minute (a write), not per page
        clients[who].get(path)
        with statements(c.ctx.db.engine) as sent:
            r = clients[who].get(path)
        assert r.status_code == 200, (name, r.status_code, r.text[:300])
        out[name] = len(sent)
    return out
