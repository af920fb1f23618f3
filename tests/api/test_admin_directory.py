"""A partner's administrators and one's API tokens through the API: listed and revoked
within rule P2 (own tokens only; the trials team's any) and rule P3 (another partner: 404)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import World, make_partner


def test_a_partner_lists_its_own_administrators(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    w, c = sqlite_world, sqlite_client
    path = f"/v1/partners/{w.partner_id}/admins"
    listed = c.get(path, headers=w.partner_full.headers)
    assert listed.status_code == 200
    emails = [a["email"] for a in listed.json()]
    assert emails == sorted(emails)
    assert w.read_only.actor.email in emails
    assert c.get(path, headers=w.operator.headers).status_code == 200
    assert c.get(path, headers=w.read_only.headers).status_code == 403  # rule P2
    other = make_partner(w.ctx, name="Other")
    refused = c.get(f"/v1/partners/{other}/admins", headers=w.partner_full.headers)
    assert refused.status_code == 404  # rule P3


def test_tokens_are_listed_by_prefix_and_revoked(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    w, c = sqlite_world, sqlite_client
    me = w.sales.actor.admin_id
    issued = c.post(f"/v1/admins/{me}/tokens", json={"label": "CRM"}, headers=w.sales.headers)
    assert issued.status_code == 201
    raw = issued.json()["token"]
    bearer = {"Authorization": f"Bearer {raw}"}
    listed = c.get(f"/v1/admins/{me}/tokens", headers=w.sales.headers).json()
    assert {t["prefix"] for t in listed} >= {raw[:10]}
    assert all(t["token"] is None for t in listed)
    # rule P2: another administrator's tokens are not one's to see or revoke
    others = f"/v1/admins/{w.read_only.actor.admin_id}/tokens"
    assert c.get(others, headers=w.sales.headers).status_code == 403
    token_id = issued.json()["id"]
    assert c.delete(f"{others}/{token_id}", headers=w.sales.headers).status_code == 403
    assert c.get("/v1/me", headers=bearer).status_code == 200
    revoked = c.delete(f"/v1/admins/{me}/tokens/{token_id}", headers=w.sales.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert c.get("/v1/me", headers=bearer).status_code == 401
    again = c.delete(f"/v1/admins/{me}/tokens/{token_id}", headers=w.operator.headers)
    assert again.status_code == 200  # the trials team may; a second revoke changes nothing
    assert c.delete(f"/v1/admins/{me}/tokens/tok_nope", headers=w.sales.headers).status_code == 404
