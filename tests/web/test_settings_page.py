"""Settings: administrators and their roles (only those the signed-in administrator may
grant, rule P2), one's own API tokens (shown once, then only the prefix; revoke), webhook
endpoints (the destination checks, enable, the delivery log); CSRF on every form, 403 for
roles that may not, a bounded number of statements."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Login, make_admin
from tests.web.conftest import PASSWORD, Portal, csrf_of, sign_in, signed_as, statements_of
from trialhub.domain.roles import PARTNER_ROLES, may_grant

_OFFERED = re.compile(r'name="roles" value="([^"]+)"')


def partner_full(portal: Portal) -> Login:
    return make_admin(
        portal.ctx,
        partner_id=portal.partner_id,
        roles=("partner_full_admin",),
        email="full@portal.example",
        password=PASSWORD,
    )


def test_the_roles_offered_are_exactly_those_the_admin_may_grant(
    portal: Portal, signed_in: TestClient
) -> None:
    """Rule P2's may_grant decides the choices, for each granter."""
    full = partner_full(portal)
    for login, client in ((portal.sales, signed_in), (full, signed_as(portal, full))):
        page = client.get("/settings").text
        expected = {r.value for r in PARTNER_ROLES if may_grant(login.actor.roles, r)}
        assert set(_OFFERED.findall(page)) == expected
    assert "sales_admin" not in _OFFERED.findall(signed_as(portal, full).get("/settings").text)


def test_create_an_administrator(portal: Portal, signed_in: TestClient) -> None:
    page = signed_in.get("/settings").text
    assert "reader@portal.example" in page  # the partner's administrators are listed
    form = {
        "csrf_token": csrf_of(page),
        "name": "Ada",
        "email": "ada@portal.example",
        "password": "a long enough password",
        "roles": ["sales_admin"],
    }
    answer = signed_in.post("/settings/admins", data=form, follow_redirects=False)
    assert answer.status_code == 303
    page = signed_in.get(answer.headers["location"]).text
    assert "Administrator created." in page
    assert "ada@portal.example" in page
    assert "Sales administrator" in page
    with portal.client() as ada:
        assert sign_in(ada, "ada@portal.example", "a long enough password").status_code == 303
    api = signed_in.get(
        f"/v1/partners/{portal.partner_id}/admins", headers=portal.sales.headers
    ).json()
    assert "ada@portal.example" in [a["email"] for a in api]


def test_a_refused_administrator_keeps_the_input(portal: Portal, signed_in: TestClient) -> None:
    page = signed_in.get("/settings").text
    form = {"csrf_token": csrf_of(page), "name": "Ada", "email": "not-an-email"}
    no_role = signed_in.post("/settings/admins", data=form)
    assert no_role.status_code == 422
    assert 'id="roles-error"' in no_role.text
    answer = signed_in.post("/settings/admins", data=form | {"roles": ["read_only"]})
    assert answer.status_code == 422
    assert 'id="admin-email-error"' in answer.text
    assert 'value="Ada"' in answer.text
    assert 'value="read_only" checked' in answer.text


def test_a_role_not_offered_is_refused(portal: Portal) -> None:
    """Rule P2: a partner full administrator cannot start trials, so it cannot grant a sales
    role even by posting the form by hand; nothing is created."""
    with signed_as(portal, partner_full(portal)) as full:
        page = full.get("/settings").text
        form = {
            "csrf_token": csrf_of(page),
            "name": "Sam",
            "email": "sam@portal.example",
            "roles": ["sales_admin"],
        }
        assert full.post("/settings/admins", data=form).status_code == 403
        assert "sam@portal.example" not in full.get("/settings").text


def test_read_only_sees_only_its_tokens_and_cannot_post_the_others(portal: Portal) -> None:
    with signed_as(portal, portal.read_only) as reader:
        page = reader.get("/settings").text
        assert "Add an administrator" not in page
        assert "Webhook endpoints" not in page
        assert "Issue an API token for yourself" in page
        token = csrf_of(page)
        admin = {
            "csrf_token": token,
            "name": "X",
            "email": "x@portal.example",
            "roles": "read_only",
        }
        assert reader.post("/settings/admins", data=admin).status_code == 403
        hook = {"csrf_token": token, "url": "https://hooks.example.com/x", "event_types": "*"}
        assert reader.post("/settings/webhooks", data=hook).status_code == 403
        assert "x@portal.example" not in page


def test_a_token_is_shown_once_then_only_its_prefix(portal: Portal, signed_in: TestClient) -> None:
    page = signed_in.get("/settings").text
    answer = signed_in.post("/settings/tokens", data={"csrf_token": csrf_of(page), "label": "CRM"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    found = re.search(r'<p class="secret" id="new-token">([^<]+)</p>', answer.text)
    assert found is not None
    raw = found.group(1)
    assert signed_in.get("/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    again = signed_in.get("/settings").text
    assert raw not in again
    assert f"{raw[:10]}…" in again
    mine = signed_in.get(
        f"/v1/admins/{portal.sales.actor.admin_id}/tokens", headers=portal.sales.headers
    ).json()
    token_id = next(t["id"] for t in mine if t["label"] == "CRM")
    assert all(t["token"] is None for t in mine)
    assert f'action="/settings/tokens/{token_id}/revoke"' in again
    revoked = signed_in.post(
        f"/settings/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_of(again)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert "Revoked" in signed_in.get("/settings").text
    assert signed_in.get("/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_webhooks_are_checked_added_and_logged(portal: Portal, signed_in: TestClient) -> None:
    page = signed_in.get("/settings").text
    bad = {"csrf_token": csrf_of(page), "url": "http://example.com/hook", "event_types": "*"}
    refused = signed_in.post("/settings/webhooks", data=bad)
    assert refused.status_code == 422
    assert 'id="webhook-url-error"' in refused.text
    assert "(rule E3)" in refused.text
    assert 'value="http://example.com/hook"' in refused.text
    good = bad | {"url": "https://hooks.example.com/trials", "event_types": "trial.expired"}
    added = signed_in.post("/settings/webhooks", data=good)
    assert added.status_code == 200
    assert re.search(r'id="new-secret">whsec_', added.text)
    page = signed_in.get("/settings").text
    assert "whsec_" not in page  # the secret is shown once
    found = re.search(r'href="/settings/webhooks/([^"]+)"', page)
    assert found is not None
    log = signed_in.get(f"/settings/webhooks/{found.group(1)}")
    assert log.status_code == 200
    assert "No deliveries yet." in log.text
    enabled = signed_in.post(
        f"/settings/webhooks/{found.group(1)}/enable",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert enabled.status_code == 303


def test_every_settings_post_needs_the_csrf_token(signed_in: TestClient) -> None:
    before = signed_in.get("/settings").text.count("/revoke")
    for path in (
        "/settings/admins",
        "/settings/tokens",
        "/settings/tokens/x/revoke",
        "/settings/webhooks",
        "/settings/webhooks/x/enable",
    ):
        assert signed_in.post(path, data={"csrf_token": "forged"}).status_code == 403
    assert signed_in.get("/settings").text.count("/revoke") == before


def test_the_page_costs_the_same_statements_for_few_or_many_rows(
    portal: Portal, signed_in: TestClient
) -> None:
    """Issue 10: one query per list, no N+1."""
    few = statements_of(portal, signed_in, "/settings")
    token = csrf_of(signed_in.get("/settings").text)
    for i in range(3):
        make_admin(portal.ctx, partner_id=portal.partner_id, email=f"more{i}@portal.example")
        signed_in.post("/settings/tokens", data={"csrf_token": token, "label": f"t{i}"})
        hook = {"csrf_token": token, "url": f"https://h{i}.example.com/x", "event_types": "*"}
        signed_in.post("/settings/webhooks", data=hook)
    assert statements_of(portal, signed_in, "/settings") == few
    assert few <= 12
