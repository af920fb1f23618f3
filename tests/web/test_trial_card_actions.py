"""The actions a trial's card on the customer page offers follow its status (found walking
the portal by hand): a trial awaiting provisioning links to its provisioning page (there was
no way there from the customer page) and offers no Extend (rule T3 refuses it); a device
trial is extended on request to the trials team (rule D6), so its card links to that form
instead of an Extend button that could only fail."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import new_customer_body
from tests.web.conftest import Portal, csrf_of
from tests.web.test_wizard_pages import post_step, walk_to_review


def _card(client: TestClient, trial: dict[str, Any]) -> str:
    page = client.get(f"/customers/{trial['customer_id']}").text
    return page.split(f'id="trial-{trial["id"]}"')[1].split("</article>")[0]


def _start(client: TestClient, portal: Portal, **overrides: Any) -> dict[str, Any]:
    answer = client.post(
        "/v1/trials", json=new_customer_body(**overrides), headers=portal.sales.headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _device_trial(client: TestClient, portal: Portal) -> dict[str, Any]:
    """A trial of room devices only: extended on request (rule D6)."""
    services = [{"code": "room_devices", "quantity": 2}]
    return _start(client, portal, services=services, user_licenses=None, meetings=None)


def test_awaiting_provisioning_links_to_provisioning_and_offers_no_extend(
    portal: Portal, signed_in: TestClient
) -> None:
    review = walk_to_review(signed_in)
    trial_id = post_step(signed_in, review, {"setup": "later"}).headers["location"].split("/")[2]
    trial = signed_in.get(f"/v1/trials/{trial_id}", headers=portal.sales.headers).json()
    card = _card(signed_in, trial)
    assert f'href="/trials/{trial_id}/provision">Complete provisioning</a>' in card
    assert f'action="/trials/{trial_id}/extend"' not in card
    assert "Edit services" in card  # rule S4: services change while awaiting provisioning


def test_an_active_trial_offers_extend_not_provisioning(
    portal: Portal, signed_in: TestClient
) -> None:
    trial = _start(signed_in, portal)
    card = _card(signed_in, trial)
    assert f'action="/trials/{trial["id"]}/extend"' in card
    assert "Complete provisioning" not in card
    assert "Request a device extension" not in card


def test_a_device_trial_links_to_the_device_extension_request(
    portal: Portal, signed_in: TestClient
) -> None:
    trial = _device_trial(signed_in, portal)
    card = _card(signed_in, trial)
    assert (
        f'href="/trials/{trial["id"]}/devices#extension-title">Request a device extension' in card
    )
    assert f'action="/trials/{trial["id"]}/extend"' not in card
    devices = signed_in.get(f"/trials/{trial['id']}/devices").text
    assert 'id="extension-title"' in devices  # the link's target exists


def test_a_read_only_administrator_sees_none_of_them(portal: Portal, signed_in: TestClient) -> None:
    from tests.web.conftest import signed_as

    trial = _start(signed_in, portal)
    with signed_as(portal, portal.read_only) as reader:
        card = _card(reader, trial)
    assert "Complete provisioning" not in card
    assert "/extend" not in card


def test_a_device_trial_with_no_devices_out_can_still_request_an_extension(
    portal: Portal, signed_in: TestClient
) -> None:
    """The request form showed only once devices had shipped, though rule D6 files it for
    any running trial with device services: the card's link led nowhere."""
    trial = _device_trial(signed_in, portal)
    page = signed_in.get(f"/trials/{trial['id']}/devices").text
    assert f'action="/trials/{trial["id"]}/devices/extension"' in page
    later = (date.fromisoformat(trial["ends_at"][:10]) + timedelta(days=10)).isoformat()
    data = {"csrf_token": csrf_of(page), "requested_end": later}
    path = f"/trials/{trial['id']}/devices/extension"
    assert signed_in.post(path, data=data, follow_redirects=False).status_code == 303
    plain = _start(signed_in, portal)  # no device service, no devices out: extended by T3
    assert "/devices/extension" not in signed_in.get(f"/trials/{plain['id']}/devices").text
