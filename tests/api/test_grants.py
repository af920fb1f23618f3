"""Rule P2 for grants (issue 8, item 2): an administrator grants only rights it holds, and
mints API tokens only for itself; the trials team (operator) grants anything."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, make_admin, new_customer_body
from trialhub.domain.roles import PARTNER_ROLES, Role, may_grant

PARTNER_ROLE_NAMES = (
    "partner_full_admin",
    "partner_admin",
    "sales_full_admin",
    "sales_admin",
    "read_only",
)
GRANTERS = (*PARTNER_ROLE_NAMES, "operator")

# written out from the P2 table (not computed): a partner full administrator cannot start
# trials, so it cannot hand out the sales roles; the roles without "manage admins" grant none
MAY_GRANT = {
    "operator": set(PARTNER_ROLE_NAMES),
    "sales_full_admin": set(PARTNER_ROLE_NAMES),
    "partner_full_admin": {"partner_full_admin", "partner_admin", "read_only"},
    "partner_admin": set(),
    "sales_admin": set(),
    "read_only": set(),
}


def _events(client: TestClient, world: World) -> list[int]:
    """The whole audit log, as the trials team sees it (rule E1)."""
    items = client.get("/v1/events?limit=200", headers=world.operator.headers).json()["items"]
    return [e["id"] for e in items]


def _create(client: TestClient, world: World, granter: str, roles: list[str]) -> Any:
    body = {"email": f"new-{uuid.uuid4().hex[:8]}@partner.example", "name": "New", "roles": roles}
    return client.post(
        f"/v1/partners/{world.partner_id}/admins",
        json=body,
        headers=world.login(granter).headers,
    )


@pytest.mark.parametrize(
    ("granter", "granted"), list(itertools.product(GRANTERS, PARTNER_ROLE_NAMES))
)
def test_every_grant_of_the_role_table(
    sqlite_client: TestClient, sqlite_world: World, granter: str, granted: str
) -> None:  # rule P2
    before = _events(sqlite_client, sqlite_world)
    r = _create(sqlite_client, sqlite_world, granter, [granted])
    if granted in MAY_GRANT[granter]:
        assert r.status_code == 201, r.text
        assert r.json()["roles"] == [granted]
        assert r.json()["partner_id"] == sqlite_world.partner_id
    else:
        assert r.status_code == 403, r.text
        assert r.json()["rule"] == "P2"
        assert _events(sqlite_client, sqlite_world) == before  # nothing was created


@pytest.mark.parametrize("granter", GRANTERS)
def test_tokens_only_for_oneself(
    sqlite_client: TestClient, sqlite_world: World, granter: str
) -> None:  # rule P2
    w = sqlite_world
    me = w.login(granter)
    before = _events(sqlite_client, w)
    for other in (w.sales_full, w.partner_admin):
        if other is me:
            continue
        r = sqlite_client.post(
            f"/v1/admins/{other.actor.admin_id}/tokens", json={}, headers=me.headers
        )
        if granter == "operator":
            assert r.status_code == 201, r.text
        else:
            assert (r.status_code, r.json()["rule"]) == (403, "P2")
            assert "token" not in r.json()
    if granter != "operator":
        assert _events(sqlite_client, w) == before
    own = sqlite_client.post(f"/v1/admins/{me.actor.admin_id}/tokens", json={}, headers=me.headers)
    assert own.status_code == 201
    whoami = sqlite_client.get("/v1/me", headers={"Authorization": f"Bearer {own.json()['token']}"})
    assert whoami.json()["admin"]["id"] == me.actor.admin_id


def test_an_unknown_admin_gets_the_same_refusal(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    # refused before any lookup, so the answer says nothing about who exists (rule P3)
    for admin_id in ("adm_nope", sqlite_world.sales.actor.admin_id):
        r = sqlite_client.post(
            f"/v1/admins/{admin_id}/tokens", json={}, headers=sqlite_world.partner_full.headers
        )
        assert (r.status_code, r.json()["rule"]) == (403, "P2")


def test_the_escalation_from_the_issue_is_refused(client: TestClient, world: World) -> None:
    """A partner full administrator tries to become able to start trials: it creates a sales
    full administrator, or mints a token for one, then starts a trial. Every step is refused
    and nothing is written (rules P2, E1)."""
    attacker = world.partner_full.headers
    before = _events(client, world)
    email = "sock-puppet@partner.example"
    for roles in (["sales_full_admin"], ["sales_admin"], ["read_only", "sales_admin"]):
        body = {"email": email, "name": "Puppet", "roles": roles, "password": "long enough!"}
        r = client.post(f"/v1/partners/{world.partner_id}/admins", json=body, headers=attacker)
        assert (r.status_code, r.json()["rule"]) == (403, "P2"), r.text
        assert r.json()["field"] == "roles"
    token = client.post(
        f"/v1/admins/{world.sales_full.actor.admin_id}/tokens", json={}, headers=attacker
    )
    assert (token.status_code, token.json()["rule"]) == (403, "P2")
    assert "th_" not in token.text
    trial = client.post("/v1/trials", json=new_customer_body(), headers=attacker)
    assert (trial.status_code, trial.json()["rule"]) == (403, "P2")
    assert _events(client, world) == before
    assert client.get("/v1/customers", headers=world.sales_full.headers).json()["items"] == []
    # the email was never taken: the trials team can still create that administrator
    body = {"email": email, "name": "Real", "roles": ["sales_admin"]}
    r = client.post(
        f"/v1/partners/{world.partner_id}/admins", json=body, headers=world.operator.headers
    )
    assert r.status_code == 201


def test_a_granter_with_several_roles_grants_what_they_cover_together(
    sqlite_client: TestClient, sqlite_world: World
) -> None:  # rule P2
    both = make_admin(
        sqlite_world.ctx,
        partner_id=sqlite_world.partner_id,
        roles=("partner_full_admin", "sales_admin"),
    )
    url = f"/v1/partners/{sqlite_world.partner_id}/admins"
    for roles, status in ((["sales_admin"], 201), (["sales_full_admin"], 403)):
        body = {"email": f"{roles[0]}-x@partner.example", "name": "X", "roles": roles}
        assert sqlite_client.post(url, json=body, headers=both.headers).status_code == status


# ---- the rule itself, as data ------------------------------------------------------------


@pytest.mark.parametrize(
    ("granter", "granted"), list(itertools.product(GRANTERS, PARTNER_ROLE_NAMES))
)
def test_may_grant_matches_the_table(granter: str, granted: str) -> None:
    assert may_grant(frozenset({Role(granter)}), Role(granted)) == (granted in MAY_GRANT[granter])


def test_only_the_operator_grants_roles_outside_a_partner() -> None:
    for granter in PARTNER_ROLES:
        for role in (Role.OPERATOR, Role.DISTRIBUTOR):
            assert not may_grant(frozenset({granter}), role)
    assert may_grant(frozenset({Role.OPERATOR}), Role.DISTRIBUTOR)
