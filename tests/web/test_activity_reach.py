"""The activity feed within an own-reach role's reach (rule P2): a partner administrator or
sales administrator reads only the events of the customers it provisioned or was assigned,
on the page and in the API (`GET /v1/activity`, `GET /v1/events`) alike; full-reach roles
read the whole partner's log. The reach is a condition of the one feed query."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_admin
from tests.support.factories import Login
from tests.support.statements import statements
from tests.web.conftest import PASSWORD, Portal, signed_as, statements_of
from tests.web.test_activity_page import codes
from tests.web.test_customers_page import start_trial
from trialhub.services import customers

OWN_REACH = ["partner_admin", "sales_admin"]


def _own_reach(portal: Portal, role: str) -> Login:
    return make_admin(
        portal.ctx,
        partner_id=portal.partner_id,
        roles=(role,),
        email=f"{role}@portal.example",
        password=PASSWORD,
    )


def _api(client: TestClient, login: Login, path: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(path, params={"limit": 100, **params}, headers=login.headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


@pytest.mark.parametrize("role", OWN_REACH)
def test_an_own_reach_feed_has_no_event_of_a_customer_out_of_reach(
    portal: Portal, signed_in: TestClient, role: str
) -> None:
    """The attack: the feed of every customer, read by a role that reaches only one."""
    mine = start_trial(signed_in, portal, "Acme")
    theirs = start_trial(signed_in, portal, "Umbrella")
    login = _own_reach(portal, role)
    customers.assign_customer(
        portal.ctx, portal.sales.actor, mine["customer_id"], str(login.actor.admin_id)
    )
    everything = _api(signed_in, portal.sales, "/v1/activity")
    assert theirs["org_id"] in {e["org_id"] for e in everything}  # full reach: all
    with signed_as(portal, login) as client:
        feed = _api(client, login, "/v1/activity")
        log = _api(client, login, "/v1/events")
        by_trial = _api(client, login, "/v1/events", trial_id=theirs["id"])
        page = client.get("/activity").text
    for events in (feed, log):
        orgs = {e["org_id"] for e in events}
        assert mine["org_id"] in orgs
        assert theirs["org_id"] not in orgs  # rule P2
        # partner-level events: only its own account's, never another administrator's
        me = login.actor
        assert all(
            e["subject_id"] == me.admin_id or me.email in e["actor_label"]
            for e in events
            if e["org_id"] is None
        )
    assert by_trial == []
    assert codes(page) == [e["action"] for e in feed]  # the page is the same use case
    assert len(codes(page)) < len(everything)


def test_full_reach_roles_still_read_every_customer(portal: Portal, signed_in: TestClient) -> None:
    acme = start_trial(signed_in, portal, "Acme")
    umbrella = start_trial(signed_in, portal, "Umbrella")
    with signed_as(portal, portal.read_only) as client:
        feed = _api(client, portal.read_only, "/v1/activity")
        log = _api(client, portal.read_only, "/v1/events")
        page = client.get("/activity").text
    for events in (feed, log):
        assert {acme["org_id"], umbrella["org_id"]} <= {e["org_id"] for e in events}
    assert codes(page) == [e["action"] for e in feed]


def test_the_reach_costs_no_statement_per_event(portal: Portal, signed_in: TestClient) -> None:
    login = _own_reach(portal, "partner_admin")
    admin_id = str(login.actor.admin_id)

    def grow() -> None:
        for name in ("Acme", "Umbrella"):
            trial = start_trial(signed_in, portal, name)
            customers.assign_customer(
                portal.ctx, portal.sales.actor, trial["customer_id"], admin_id
            )

    def cost(client: TestClient) -> tuple[int, int, int]:
        with statements(portal.ctx.db.engine) as api:
            _api(client, login, "/v1/activity")
        with statements(portal.ctx.db.engine) as log:
            _api(client, login, "/v1/events")
        return statements_of(portal, client, "/activity"), len(api), len(log)

    grow()
    with signed_as(portal, login) as client:
        cost(client)  # warm: the first API call records the token's use
        few = cost(client)
        grow()
        grow()
        assert cost(client) == few
