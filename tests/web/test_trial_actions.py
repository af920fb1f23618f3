"""The trial's actions from the customer page, each through the API's use case: success
(Post/Redirect/Get), the error next to its field in the rule's words, 403 and nothing
changed for a role that may not (rule P2), and CSRF refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_partner
from tests.web.conftest import PASSWORD, Portal, csrf_of, sign_in
from tests.web.test_customers_page import start_trial
from trialhub.services import trials


@pytest.fixture
def trial(portal: Portal, signed_in: TestClient) -> dict[str, Any]:
    return start_trial(signed_in, portal, "Acme")


def _post(client: TestClient, path: str, data: dict[str, Any] | None = None) -> Any:
    token = csrf_of(client.get("/customers").text)
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def _ends(portal: Portal, trial_id: str) -> Any:
    return trials.get_trial(portal.ctx, portal.sales.actor, trial_id).ends_at


def test_extend(portal: Portal, signed_in: TestClient, trial: dict[str, Any]) -> None:
    before = _ends(portal, trial["id"])
    answer = _post(signed_in, f"/trials/{trial['id']}/extend", {"reason": "more time"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/customers/{trial['customer_id']}?done=")
    assert _ends(portal, trial["id"]) > before
    page = signed_in.get(answer.headers["location"]).text
    assert "The trial was extended." in page
    assert "trial.extended" in page  # the timeline


def test_a_reason_too_long_is_shown_next_to_extend(
    portal: Portal, signed_in: TestClient, trial: dict[str, Any]
) -> None:
    before = _ends(portal, trial["id"])
    refused = _post(signed_in, f"/trials/{trial['id']}/extend", {"reason": "x" * 501})
    assert refused.status_code == 422
    assert f'id="extend-{trial["id"]}-error"' in refused.text
    assert "500" in refused.text
    assert _ends(portal, trial["id"]) == before


def test_edit_services_add_and_remove(
    portal: Portal, signed_in: TestClient, trial: dict[str, Any]
) -> None:
    form = signed_in.get(f"/trials/{trial['id']}/services").text
    assert 'name="remove" value="messaging"' in form
    answer = _post(signed_in, f"/trials/{trial['id']}/services", {"remove": "messaging"})
    assert answer.status_code == 303, answer.text
    codes = {
        s.code
        for s in trials.get_trial(portal.ctx, portal.sales.actor, trial["id"]).services
        if s.removed_at is None
    }
    assert codes == {"meetings"}


def test_edit_services_errors_next_to_their_field(
    portal: Portal, signed_in: TestClient, trial: dict[str, Any]
) -> None:
    nothing = _post(signed_in, f"/trials/{trial['id']}/services")
    assert nothing.status_code == 422
    assert 'id="add-error"' in nothing.text
    assert "rule S4" in nothing.text
    last = _post(
        signed_in, f"/trials/{trial['id']}/services", {"remove": ["meetings", "messaging"]}
    )
    assert last.status_code == 422
    assert "S4" in last.text
    assert 'value="meetings" checked' in last.text  # what was typed is kept


def test_delete_needs_yes(portal: Portal, signed_in: TestClient, trial: dict[str, Any]) -> None:
    page = signed_in.get(f"/trials/{trial['id']}/delete")
    assert page.status_code == 200
    assert "Delete this trial?" in page.text
    refused = _post(signed_in, f"/trials/{trial['id']}/delete")
    assert refused.status_code == 422
    assert "rule T9" in refused.text
    answer = _post(signed_in, f"/trials/{trial['id']}/delete", {"confirm": "yes"})
    assert answer.status_code == 303
    assert trials.get_trial(portal.ctx, portal.sales.actor, trial["id"]).status == "deleted"


def test_convert_tier_1(portal: Portal, signed_in: TestClient, trial: dict[str, Any]) -> None:
    form = signed_in.get(f"/trials/{trial['id']}/convert").text
    assert "Convert to a paid order" in form
    missing = _post(signed_in, f"/trials/{trial['id']}/convert", {"services": "meetings"})
    assert missing.status_code == 422
    assert 'id="provisioning_email-error"' in missing.text
    data = {
        "services": ["meetings", "messaging"],
        "provisioning_email": portal.sales.actor.email,
    }
    answer = _post(signed_in, f"/trials/{trial['id']}/convert", data)
    assert answer.status_code == 303, answer.text
    assert "done=converted" in answer.headers["location"]
    assert trials.get_trial(portal.ctx, portal.sales.actor, trial["id"]).status == "converted"


def test_request_conversion_tier_2(portal: Portal) -> None:
    from tests.conftest import make_admin

    pid = make_partner(portal.ctx, name="Tier Two", tier=2)
    admin = make_admin(portal.ctx, partner_id=pid, email="two@tier.example", password=PASSWORD)
    with portal.client() as client:
        assert sign_in(client, "two@tier.example").status_code == 303
        t = start_trial(client, Portal(portal.ctx, pid, admin, admin), "Acme")
        assert "Request conversion" in client.get(f"/customers/{t['customer_id']}").text
        data = {"services": ["meetings", "messaging"], "provisioning_email": "two@tier.example"}
        answer = _post(client, f"/trials/{t['id']}/convert", data)
        assert answer.status_code == 303, answer.text
        assert "done=requested" in answer.headers["location"]
        page = client.get(answer.headers["location"]).text
    assert "the order is requested" in page
    assert "order.created" in page


def test_resend_and_cancel_only_while_pending(
    portal: Portal, signed_in: TestClient, trial: dict[str, Any]
) -> None:
    refused = _post(signed_in, f"/trials/{trial['id']}/resend")
    assert refused.status_code == 422  # not pending consent (rule K5)
    assert "K5" in refused.text or "rule" in refused.text
    cancelled = _post(signed_in, f"/trials/{trial['id']}/cancel")
    assert cancelled.status_code == 422


def test_assign_to_an_administrator(
    portal: Portal, signed_in: TestClient, trial: dict[str, Any]
) -> None:
    path = f"/customers/{trial['customer_id']}/assignments"
    wrong = _post(signed_in, path, {"admin_id": "nobody"})
    assert wrong.status_code == 422
    assert 'id="admin_id-error"' in wrong.text
    answer = _post(signed_in, path, {"admin_id": portal.read_only.actor.admin_id})
    assert answer.status_code == 303
    page = signed_in.get(answer.headers["location"]).text
    assert "reader@portal.example" in page.split("Assigned administrators")[1]


ACTIONS = [
    ("/trials/{id}/extend", {}),
    ("/trials/{id}/resend", {}),
    ("/trials/{id}/cancel", {}),
    ("/trials/{id}/delete", {"confirm": "yes"}),
    ("/trials/{id}/services", {"remove": "messaging"}),
    ("/trials/{id}/convert", {"services": "meetings", "provisioning_email": "x@y.example"}),
    ("/customers/{customer}/assignments", {"admin_id": "x"}),
]


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_a_role_that_may_not_gets_403_and_nothing_changes(
    portal: Portal, trial: dict[str, Any], path: str, data: dict[str, Any]
) -> None:
    """Rule P2: a read-only administrator posting the form anyway."""
    before = trials.timeline(portal.ctx, portal.sales.actor, trial["id"])
    target = path.format(id=trial["id"], customer=trial["customer_id"])
    with portal.client() as reader:
        assert sign_in(reader, portal.read_only.actor.email).status_code == 303
        answer = _post(reader, target, data)
    assert answer.status_code == 403
    assert trials.timeline(portal.ctx, portal.sales.actor, trial["id"]) == before


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_csrf_refused(
    portal: Portal, signed_in: TestClient, trial: dict[str, Any], path: str, data: dict[str, Any]
) -> None:
    before = trials.timeline(portal.ctx, portal.sales.actor, trial["id"])
    target = path.format(id=trial["id"], customer=trial["customer_id"])
    answer = signed_in.post(target, data={**data, "csrf_token": "wrong"}, follow_redirects=False)
    assert answer.status_code == 403
    assert trials.timeline(portal.ctx, portal.sales.actor, trial["id"]) == before


def test_a_waiting_conversion_request_is_shown_and_not_offered_again(portal: Portal) -> None:
    """Rule V1: one request waits at a time; the trial card shows it (status, when, by
    whom) instead of the button, and a second request is refused on the form, not a 500."""
    from tests.conftest import make_admin

    pid = make_partner(portal.ctx, name="Tier Two", tier=2)
    admin = make_admin(portal.ctx, partner_id=pid, email="two@tier.example", password=PASSWORD)
    with portal.client() as client:
        assert sign_in(client, "two@tier.example").status_code == 303
        t = start_trial(client, Portal(portal.ctx, pid, admin, admin), "Acme")
        data = {"services": ["meetings", "messaging"], "provisioning_email": "two@tier.example"}
        assert _post(client, f"/trials/{t['id']}/convert", data).status_code == 303
        page = client.get(f"/customers/{t['customer_id']}").text
        form = client.get(f"/trials/{t['id']}/convert").text
        again = _post(client, f"/trials/{t['id']}/convert", data)
    card = page.split(f'id="trial-{t["id"]}"')[1].split("</article>")[0]
    assert "Requested" in card
    assert "waiting for your distributor" in card
    assert "by two@tier.example" in card
    assert f'href="/trials/{t["id"]}/convert"' not in card  # not offered a second time
    # the form's address typed by hand: the waiting request, not a form to be refused
    assert "already waits for your distributor" in form
    assert f'action="/trials/{t["id"]}/convert"' not in form
    assert again.status_code == 422
    assert (
        '<p class="error" role="alert">A conversion request for this trial already waits '
        "for the distributor. (rule V1)</p>" in again.text
    )
