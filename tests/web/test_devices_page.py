"""A trial's devices page: order devices (rules D1-D3), request a device extension (D5, D6),
and the trials team's dispatch (D4), return (D8) and extension queue (D6); each through the
API's use cases, each action only for roles that may (rule P2), CSRF on every form."""

from __future__ import annotations

import html
import re
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Login, make_admin, new_customer_body
from tests.support.factories import dispatch_body, order_body
from tests.web.conftest import PASSWORD, Portal, csrf_of, signed_as, statements_of

ADDRESS = order_body()["address"] | {"email": "marie@acme.example"}


def calling_trial(client: TestClient, portal: Portal) -> str:
    body = new_customer_body(
        services=[{"code": "calling"}], meetings=None, user_licenses=5, duration_days=90
    )
    answer = client.post("/v1/trials", json=body, headers=portal.sales.headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def order_form(page: str, **over: Any) -> dict[str, Any]:
    """The order form as a browser posts it: two phones to France, PoE supported."""
    models = re.findall(r'name="model" value="([^"]+)"', page)
    quantities = {"desk-phone-9841": "2"} | over.pop("quantities", {})
    form: dict[str, Any] = {
        "csrf_token": csrf_of(page),
        "recipient": "customer",
        **ADDRESS,
        "poe_supported": "yes",
        "deal_id": "",
        "model": models,
        "quantity": [quantities.get(m, "") for m in models],
    }
    return form | over


@pytest.fixture
def operator(portal: Portal) -> Login:
    return make_admin(
        portal.ctx,
        partner_id=None,
        roles=("operator",),
        email="ops@trials.example",
        password=PASSWORD,
    )


def test_order_devices_through_the_form(portal: Portal, signed_in: TestClient) -> None:
    trial = calling_trial(signed_in, portal)
    page = signed_in.get(f"/trials/{trial}/devices").text
    assert "No devices ordered for this trial." in page
    assert "Phones ship without power supplies" in page  # rule D3: the PoE note
    answer = signed_in.post(
        f"/trials/{trial}/devices", data=order_form(page), follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/trials/{trial}/devices?done=ordered"
    api = signed_in.get(f"/v1/trials/{trial}/shipments", headers=portal.sales.headers).json()
    assert [(s["device_type"], s["lines"][0]["quantity"]) for s in api] == [("phone", 2)]
    page = signed_in.get(answer.headers["location"]).text
    assert "Devices ordered" in page
    assert api[0]["demo_order"] in page  # rule D9
    assert "2 \N{MULTIPLICATION SIGN} Desk Phone 9841" in page
    assert "already ordered for this trial (rule D2)" in page


def test_a_refused_order_shows_errors_next_to_fields_and_keeps_input(
    portal: Portal, signed_in: TestClient
) -> None:
    trial = calling_trial(signed_in, portal)
    page = signed_in.get(f"/trials/{trial}/devices").text
    form = order_form(page, name="", country="US", city="Springfield")
    answer = signed_in.post(f"/trials/{trial}/devices", data=form)
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    assert 'id="ship-name-error"' in text
    assert "(rule D1)" in text
    assert 'value="Springfield"' in text  # what was typed stays
    assert '<option value="US" selected>' in text
    assert 'value="2"' in text
    api = signed_in.get(f"/v1/trials/{trial}/shipments", headers=portal.sales.headers).json()
    assert api == []


def test_an_order_without_devices_says_so_in_the_users_words(
    portal: Portal, signed_in: TestClient
) -> None:
    """Rule D1: no quantity typed is "choose a device type", not "Give a list of ..."."""
    trial = calling_trial(signed_in, portal)
    page = signed_in.get(f"/trials/{trial}/devices").text
    answer = signed_in.post(
        f"/trials/{trial}/devices", data=order_form(page, quantities={"desk-phone-9841": ""})
    )
    assert answer.status_code == 422
    error = re.search(r'<p class="field-error" id="devices-error">([^<]+)</p>', answer.text)
    assert error is not None
    assert html.unescape(error.group(1)) == (
        "Choose at least one device type: enter how many of its models to ship (rule D1)."
    )
    assert "Give a list" not in answer.text


def test_a_us_order_needs_the_deal_id(portal: Portal, signed_in: TestClient) -> None:
    trial = calling_trial(signed_in, portal)
    page = signed_in.get(f"/trials/{trial}/devices").text
    answer = signed_in.post(f"/trials/{trial}/devices", data=order_form(page, country="US"))
    assert answer.status_code == 422
    assert 'id="ship-deal-error"' in answer.text
    assert "Shipments to the United States need the deal id. (rule D1)" in answer.text


def test_read_only_sees_no_order_form_and_its_post_is_refused(
    portal: Portal, signed_in: TestClient
) -> None:
    """Rule P2: no button, and a forged POST is 403 with nothing changed."""
    trial = calling_trial(signed_in, portal)
    form = order_form(signed_in.get(f"/trials/{trial}/devices").text)
    with signed_as(portal, portal.read_only) as reader:
        page = reader.get(f"/trials/{trial}/devices").text
        assert "Order devices" not in page
        assert "Request a device extension" not in page
        form["csrf_token"] = csrf_of(page)
        assert reader.post(f"/trials/{trial}/devices", data=form).status_code == 403
        ext = {"csrf_token": csrf_of(page), "requested_end": "2030-01-01"}
        assert reader.post(f"/trials/{trial}/devices/extension", data=ext).status_code == 403
    assert signed_in.get(f"/v1/trials/{trial}/shipments", headers=portal.sales.headers).json() == []


def test_posts_without_the_csrf_token_are_refused(portal: Portal, signed_in: TestClient) -> None:
    trial = calling_trial(signed_in, portal)
    form = order_form(signed_in.get(f"/trials/{trial}/devices").text, csrf_token="forged")
    assert signed_in.post(f"/trials/{trial}/devices", data=form).status_code == 403
    for path in (
        "/shipments/x/dispatch",
        "/shipments/x/return",
        f"/trials/{trial}/devices/extension",
        "/devices/extension-requests/x/decision",
    ):
        assert signed_in.post(path, data={"csrf_token": "forged"}).status_code == 403
    assert signed_in.get(f"/v1/trials/{trial}/shipments", headers=portal.sales.headers).json() == []


def _ordered(signed_in: TestClient, portal: Portal, quantity: int = 2) -> tuple[str, str]:
    trial = calling_trial(signed_in, portal)
    body = order_body(devices=[{"model": "desk-phone-9841", "quantity": quantity}])
    sent = signed_in.post(f"/v1/trials/{trial}/shipments", json=body, headers=portal.sales.headers)
    assert sent.status_code == 201, sent.text
    return trial, str(sent.json()["id"])


def test_the_trials_team_dispatches_and_takes_the_return(
    portal: Portal, signed_in: TestClient, operator: Login
) -> None:
    trial, shipment = _ordered(signed_in, portal)
    assert "Dispatch" not in signed_in.get(f"/trials/{trial}/devices").text  # partners: no
    with signed_as(portal, operator) as ops:
        page = ops.get(f"/trials/{trial}/devices").text
        assert f'action="/shipments/{shipment}/dispatch"' in page
        form = {
            "csrf_token": csrf_of(page),
            "carrier": "DHL",
            "tracking": "JD0123456789",
            "model": ["desk-phone-9841", "desk-phone-9841"],
            "serial": ["FOC111", "FOC222"],
        }
        answer = ops.post(f"/shipments/{shipment}/dispatch", data=form, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        page = ops.get(answer.headers["location"]).text
        assert "FOC111, FOC222" in page
        wrong = {"csrf_token": csrf_of(page), "serial_numbers": "FOC111\nFOC999"}
        refused = ops.post(f"/shipments/{shipment}/return", data=wrong)
        assert refused.status_code == 422
        assert "FOC222 was shipped but is not returned." in refused.text  # rule D8
        assert "FOC999 was not in this shipment." in refused.text
        assert "FOC111\nFOC999" in refused.text  # kept
        right = {"csrf_token": csrf_of(page), "serial_numbers": "FOC111, FOC222"}
        assert ops.post(f"/shipments/{shipment}/return", data=right).status_code == 200
    view = signed_in.get(f"/v1/shipments/{shipment}", headers=portal.sales.headers).json()
    assert (view["status"], view["carrier"]) == ("returned", "DHL")


def test_a_partner_cannot_dispatch_or_take_a_return(portal: Portal, signed_in: TestClient) -> None:
    trial, shipment = _ordered(signed_in, portal)
    token = csrf_of(signed_in.get(f"/trials/{trial}/devices").text)
    form = {
        "csrf_token": token,
        "carrier": "DHL",
        "tracking": "JD0123",
        "model": "desk-phone-9841",
        "serial": "FOC1",
    }
    assert signed_in.post(f"/shipments/{shipment}/dispatch", data=form).status_code == 403
    back = {"csrf_token": token, "serial_numbers": "FOC1"}
    assert signed_in.post(f"/shipments/{shipment}/return", data=back).status_code == 403
    view = signed_in.get(f"/v1/shipments/{shipment}", headers=portal.sales.headers).json()
    assert view["status"] == "ordered"


def _dispatched(
    signed_in: TestClient, portal: Portal, operator: Login, serials: tuple[str, ...] = ("FOC1",)
) -> str:
    trial, shipment = _ordered(signed_in, portal, quantity=len(serials))
    sent = signed_in.post(
        f"/v1/shipments/{shipment}/dispatch",
        json=dispatch_body(*serials),
        headers=operator.headers,
    )
    assert sent.status_code == 200, sent.text
    return trial


def test_a_device_extension_is_requested_then_approved_in_the_queue(
    portal: Portal, signed_in: TestClient, operator: Login
) -> None:
    trial = _dispatched(signed_in, portal, operator, serials=("FOC1", "FOC2"))
    page = signed_in.get(f"/trials/{trial}/devices").text
    ends = re.search(r'ends <time datetime="(\d{4}-\d\d-\d\d)', page)
    assert ends is not None
    too_late = {"csrf_token": csrf_of(page), "requested_end": "2099-01-01", "reason": "Pilot"}
    refused = signed_in.post(f"/trials/{trial}/devices/extension", data=too_late)
    assert refused.status_code == 422
    assert 'id="requested_end-error"' in refused.text
    assert "(rule D5)" in refused.text
    later = {"csrf_token": csrf_of(page), "requested_end": _plus_days(ends.group(1), 10)}
    asked = signed_in.post(f"/trials/{trial}/devices/extension", data=later, follow_redirects=False)
    assert asked.status_code == 303
    assert "Pending" in signed_in.get(asked.headers["location"]).text
    queue = signed_in.get("/devices/extension-requests").text  # a partner sees its own
    assert 'action="/devices/extension-requests/' not in queue
    with signed_as(portal, operator) as ops:
        queue = ops.get("/devices/extension-requests").text
        found = re.search(r'action="/devices/extension-requests/([^/]+)/decision"', queue)
        assert found is not None
        forged = {"csrf_token": csrf_of(page), "approve": "yes"}
        path = f"/devices/extension-requests/{found.group(1)}/decision"
        assert signed_in.post(path, data=forged).status_code == 403  # rule P2
        decided = ops.post(path, data={"csrf_token": csrf_of(queue), "approve": "yes"})
        assert decided.status_code == 200
        assert "Device extension approved." in decided.text
    listed = signed_in.get(
        "/v1/device-extension-requests", params={"trial_id": trial}, headers=portal.sales.headers
    ).json()["items"]
    assert [r["decision"] for r in listed] == ["approved"]


def _plus_days(day: str, n: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()


def test_the_page_costs_the_same_statements_for_one_or_more_shipments(
    portal: Portal, signed_in: TestClient
) -> None:
    """Issue 10: one query per list, no N+1 (two shipments cost what one does)."""
    trial, _ = _ordered(signed_in, portal)
    path = f"/trials/{trial}/devices"
    one = statements_of(portal, signed_in, path)
    more = order_body(devices=[{"model": "room-bar", "quantity": 1}])
    second = signed_in.post(
        f"/v1/trials/{trial}/shipments", json=more, headers=portal.sales.headers
    )
    assert second.status_code == 201, second.text
    assert statements_of(portal, signed_in, path) == one
    assert one <= 30


def test_the_queue_costs_the_same_statements_for_few_or_many_requests(
    portal: Portal, signed_in: TestClient, operator: Login
) -> None:
    """Issue 10: the trials team's queue is one query, whatever its length."""

    def ask() -> None:
        trial = _dispatched(signed_in, portal, operator, serials=(f"S{uuid4().hex[:8]}",))
        ends = signed_in.get(f"/v1/trials/{trial}", headers=portal.sales.headers).json()["ends_at"]
        body = {"requested_end": _plus_days(ends[:10], 5) + "T00:00:00Z"}
        path = f"/v1/trials/{trial}/device-extension-requests"
        assert signed_in.post(path, json=body, headers=portal.sales.headers).status_code == 201

    with signed_as(portal, operator) as ops:
        ask()
        few = statements_of(portal, ops, "/devices/extension-requests")
        for _ in range(3):
            ask()
        assert statements_of(portal, ops, "/devices/extension-requests") == few
