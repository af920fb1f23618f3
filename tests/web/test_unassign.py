"""Removing an assignment from the customer page (rule P2): the use case behind `DELETE
/v1/customers/{id}/assignments/{admin_id}`, audit logged (E1), only for a role that manages
administrators (403 otherwise, nothing changed), never without the CSRF token."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_admin
from tests.web.conftest import PASSWORD, Portal, csrf_of, signed_as
from tests.web.test_customers_page import start_trial
from trialhub.services import customers


@pytest.fixture
def assigned(portal: Portal, signed_in: TestClient) -> dict[str, Any]:
    """A customer assigned to the read-only administrator."""
    trial = start_trial(signed_in, portal, "Acme")
    reader = portal.read_only.actor.admin_id
    assert reader is not None
    customers.assign_customer(portal.ctx, portal.sales.actor, trial["customer_id"], reader)
    return {"customer_id": trial["customer_id"], "admin_id": reader}


def _path(assigned: dict[str, Any]) -> str:
    return f"/customers/{assigned['customer_id']}/assignments/{assigned['admin_id']}/remove"


def _assigned_ids(portal: Portal, customer_id: str) -> list[str]:
    return customers.get_customer(portal.ctx, portal.sales.actor, customer_id).assigned_admin_ids


def _post(client: TestClient, path: str, token: str | None) -> Any:
    data = {"csrf_token": token} if token is not None else {}
    return client.post(path, data=data, follow_redirects=False)


def test_the_page_offers_remove_and_it_removes(
    portal: Portal, signed_in: TestClient, assigned: dict[str, Any]
) -> None:
    page = signed_in.get(f"/customers/{assigned['customer_id']}").text
    assert f'action="{_path(assigned)}"' in page
    # an administrator already assigned is not offered again in "Assign to"
    assert f'<option value="{assigned["admin_id"]}"' not in page
    answer = _post(signed_in, _path(assigned), csrf_of(page))
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"/customers/{assigned['customer_id']}?done=unassigned#assign-head"
    )
    assert _assigned_ids(portal, assigned["customer_id"]) == []
    after = signed_in.get(answer.headers["location"]).text
    assert "The assignment was removed." in after
    assert f'<option value="{assigned["admin_id"]}"' in after  # may be assigned again
    feed = customers.activity(
        portal.ctx, portal.sales.actor, customer_id=assigned["customer_id"], kind="customer"
    )
    assert feed.items[0].action == "customer.unassigned"  # rule E1
    assert "sales@portal.example" in feed.items[0].actor_label  # who did it


@pytest.mark.parametrize("role", ["read_only", "sales_admin", "partner_admin"])
def test_a_role_that_may_not_sees_no_button_and_gets_403(
    portal: Portal, assigned: dict[str, Any], role: str
) -> None:
    """Rule P2: only full administrators assign customers and remove assignments."""
    login = make_admin(
        portal.ctx,
        partner_id=portal.partner_id,
        roles=(role,),
        email=f"{role}@portal.example",
        password=PASSWORD,
    )
    customers.assign_customer(
        portal.ctx, portal.sales.actor, assigned["customer_id"], str(login.actor.admin_id)
    )
    with signed_as(portal, login) as client:
        page = client.get(f"/customers/{assigned['customer_id']}").text
        assert "/remove" not in page
        assert _post(client, _path(assigned), csrf_of(page)).status_code == 403
    assert assigned["admin_id"] in _assigned_ids(portal, assigned["customer_id"])


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_without_the_csrf_token_it_is_403_and_nothing_changes(
    portal: Portal, signed_in: TestClient, assigned: dict[str, Any], token: str | None
) -> None:
    assert _post(signed_in, _path(assigned), token).status_code == 403
    assert _assigned_ids(portal, assigned["customer_id"]) == [assigned["admin_id"]]


def test_another_partners_customer_is_404(portal: Portal, assigned: dict[str, Any]) -> None:
    """Rule P3: the customer of another partner is not found, never forbidden."""
    from tests.conftest import make_partner

    other = make_partner(portal.ctx, name="Other")
    theirs = make_admin(portal.ctx, partner_id=other, email="boss@other.example", password=PASSWORD)
    with signed_as(portal, theirs) as client:
        token = csrf_of(client.get("/customers").text)
        assert _post(client, _path(assigned), token).status_code == 404
    assert _assigned_ids(portal, assigned["customer_id"]) == [assigned["admin_id"]]
