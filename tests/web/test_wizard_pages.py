"""The Start Trial wizard (`/trials/new`): each step checks its own fields with the preview
use case and shows errors next to them in the rule's words; Back keeps what was typed; the
region shows as soon as a country is chosen (rule C2); an email of an existing organization
leads to its confirmation (rule C3); a double click starts one trial; roles that may not
start trials get 403 (rule P2); every POST needs the CSRF token."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.support.factories import make_org, new_customer_body
from tests.support.statements import statements
from tests.web.conftest import Portal, csrf_of, sign_in
from tests.web.test_customers_page import paid_customer

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')

CUSTOMER = {
    "company_name": "Acme Corp",
    "admin_email": "Admin@Acme.example",
    "business_vertical": "retail",
    "country": "FR",
    "supported_location_ack": "yes",
}
SERVICES: dict[str, Any] = {
    "services": ["meetings", "messaging"],
    "edition": "enterprise",
    "user_licenses": "50",
    "duration_days": "90",
}
SITE = {"site_url": "acme-corp.webex.com", "time_zone": "Europe/Paris"}


def carried(page: str) -> list[tuple[str, str]]:
    """The hidden fields a step carries on (with the CSRF token and the step)."""
    return [(n, html.unescape(v)) for n, v in _HIDDEN.findall(page)]


def post_step(client: TestClient, page: str, fields: dict[str, Any], go: str = "next") -> Any:
    """Submits the page's form as a browser would: its hidden fields plus what was typed."""
    data: dict[str, list[str]] = {}
    for name, value in [*carried(page), *fields.items(), ("go", go)]:
        data.setdefault(name, []).extend(value if isinstance(value, list) else [value])
    review = 'name="step" value="review"' in page and go != "back"
    action = "/trials/new/start" if review else "/trials/new"
    return client.post(action, data=data, follow_redirects=False)


def step_of(page: str) -> str:
    found = re.search(r'name="step" value="([a-z]+)"', page)
    assert found
    return found.group(1)


def walk_to_review(client: TestClient, customer: dict[str, str] | None = None) -> str:
    page = client.get("/trials/new").text
    page = post_step(client, page, customer or CUSTOMER).text
    assert step_of(page) == "services", page
    page = post_step(client, page, SERVICES).text
    assert step_of(page) == "meetings", page
    page = post_step(client, page, SITE).text
    assert step_of(page) == "review", page
    return page


def test_the_customer_step_shows_each_error_next_to_its_field(signed_in: TestClient) -> None:
    page = signed_in.get("/trials/new").text
    answer = post_step(signed_in, page, {"company_name": "", "admin_email": "not-an-email"})
    assert answer.status_code == 422
    assert step_of(answer.text) == "customer"
    text = answer.text
    assert 'id="admin_email-error"' in text
    assert "valid email" in text
    assert 'id="business_vertical-error"' in text
    assert "next best option" in text
    assert 'id="supported_location_ack-error"' in text
    assert "(rule C1)" in text
    assert 'value="not-an-email"' in text  # what was typed stays


def test_an_empty_administrator_email_is_required_not_an_at_sign(
    signed_in: TestClient,
) -> None:
    """Rule C1: an empty field says it is required, with its rule, like the others."""
    page = signed_in.get("/trials/new").text
    answer = post_step(signed_in, page, {**CUSTOMER, "admin_email": "  "})
    assert answer.status_code == 422
    error = re.search(r'<p class="field-error" id="admin_email-error">([^<]+)</p>', answer.text)
    assert error is not None, answer.text
    assert html.unescape(error.group(1)) == "The administrator email is required. (rule C1)"
    assert "@-sign" not in answer.text


def test_the_region_shows_as_soon_as_a_country_is_chosen(signed_in: TestClient) -> None:
    part = signed_in.get("/trials/new/region", params={"country": "FR"}).text
    assert "European Union" in part
    assert "<html" not in part
    assert "Choose a country" in signed_in.get("/trials/new/region").text
    page = signed_in.get("/trials/new").text
    assert 'hx-get="/trials/new/region"' in page
    # without script: Next shows it on the next step
    after = post_step(signed_in, page, CUSTOMER).text
    assert "European Union" in after


def test_errors_appear_on_the_step_that_owns_the_field(signed_in: TestClient) -> None:
    page = signed_in.get("/trials/new").text
    page = post_step(signed_in, page, CUSTOMER).text
    answer = post_step(signed_in, page, {**SERVICES, "user_licenses": "0"})
    assert answer.status_code == 422
    assert step_of(answer.text) == "services"
    assert 'id="user_licenses-error"' in answer.text
    assert "(rule S1)" in answer.text
    page = post_step(signed_in, page, SERVICES).text
    answer = post_step(signed_in, page, {"site_url": "-bad-", "time_zone": "Mars/Base"})
    assert answer.status_code == 422
    assert step_of(answer.text) == "meetings"
    assert 'id="site_url-error"' in answer.text
    assert 'id="time_zone-error"' in answer.text
    assert "(rule S2)" in answer.text


def test_back_keeps_what_was_typed(signed_in: TestClient) -> None:
    review = walk_to_review(signed_in)
    meetings = post_step(signed_in, review, {}, go="back").text
    assert step_of(meetings) == "meetings"
    assert 'value="acme-corp.webex.com"' in meetings
    services = post_step(
        signed_in, meetings, {**SITE, "site_url": "changed.webex.com"}, "back"
    ).text
    assert step_of(services) == "services"
    assert 'value="meetings" checked' in services
    assert 'value="50"' in services
    customer = post_step(signed_in, services, SERVICES, go="back").text
    assert step_of(customer) == "customer"
    assert 'value="Acme Corp"' in customer
    assert '<option value="FR" selected>' in customer
    assert "European Union" in customer
    # and forward again, everything is still there, the change on the way back too
    services = post_step(signed_in, customer, CUSTOMER).text
    meetings = post_step(signed_in, services, SERVICES).text
    assert 'value="changed.webex.com"' in meetings


def test_save_and_set_up_now_starts_one_trial_even_on_a_double_click(
    portal: Portal, signed_in: TestClient
) -> None:
    review = walk_to_review(signed_in)
    assert "Save and set up now" in review
    assert "Save and set up later" in review
    first = post_step(signed_in, review, {"setup": "now"})
    second = post_step(signed_in, review, {"setup": "now"})  # the same form again
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    api = signed_in.get("/v1/customers", headers=portal.sales.headers).json()["items"]
    assert [c["name"] for c in api] == ["Acme Corp"]
    landed = signed_in.get(first.headers["location"]).text
    assert "Active" in landed  # set up now: provisioned at once (rule T1)
    # Back from the review page and Save again: the key came along, still one trial
    meetings = post_step(signed_in, review, {}, go="back").text
    again = post_step(signed_in, post_step(signed_in, meetings, SITE).text, {"setup": "now"})
    assert again.headers["location"] == first.headers["location"]
    # and changed on the way: refused on the review page, nothing started
    changed = post_step(signed_in, meetings, {**SITE, "time_zone": "Europe/Rome"}).text
    refused = post_step(signed_in, changed, {"setup": "now"})
    assert refused.status_code == 422
    assert step_of(refused.text) == "review"
    assert "already sent" in refused.text
    assert len(signed_in.get("/v1/customers", headers=portal.sales.headers).json()["items"]) == 1


def test_save_and_set_up_later_leads_to_provisioning(portal: Portal, signed_in: TestClient) -> None:
    review = walk_to_review(signed_in)
    landed = post_step(signed_in, review, {"setup": "later"}).headers["location"]
    trial_id = landed.split("/")[2]
    page = signed_in.get(landed).text
    assert "Awaiting provisioning details" in page
    assert f'href="/trials/{trial_id}/provision"' in page
    form = signed_in.get(f"/trials/{trial_id}/provision").text
    assert "acme-corp.webex.com" in form
    assert "Europe/Paris" in form
    done = signed_in.post(
        f"/trials/{trial_id}/provision",
        data={"csrf_token": csrf_of(form), "note": "set up by phone"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    trial = signed_in.get(f"/v1/trials/{trial_id}", headers=portal.sales.headers).json()
    assert trial["status"] == "active"
    again = signed_in.post(
        f"/trials/{trial_id}/provision", data={"csrf_token": csrf_of(form)}, follow_redirects=False
    )
    assert again.status_code == 409
    assert "not awaiting provisioning" in again.text


def test_a_start_refused_at_the_end_shows_the_error_on_its_step(
    portal: Portal, signed_in: TestClient
) -> None:
    review = walk_to_review(signed_in)
    # the site name was taken meanwhile (rule S2): the start says so on the meetings step
    body = {
        "customer": {**CUSTOMER, "supported_location_ack": True, "admin_email": "x@other.example"},
        "services": [{"code": "meetings", "edition": "enterprise"}],
        "user_licenses": 5,
        "meetings": SITE,
    }
    assert signed_in.post("/v1/trials", json=body, headers=portal.sales.headers).status_code == 201
    answer = post_step(signed_in, review, {"setup": "now"})
    assert answer.status_code == 422
    assert step_of(answer.text) == "meetings"
    assert 'id="site_url-error"' in answer.text


def test_an_existing_organization_is_shown_for_confirmation(
    portal: Portal, signed_in: TestClient
) -> None:
    org_id = make_org(portal.ctx, full=("hank@globex.example",))
    page = signed_in.get("/trials/new").text
    page = post_step(signed_in, page, {**CUSTOMER, "admin_email": "hank@globex.example"}).text
    assert step_of(page) == "existing"
    assert "Globex" in page
    assert "European Union" in page
    unconfirmed = post_step(signed_in, page, {})
    assert unconfirmed.status_code == 422
    assert "(rule C3)" in unconfirmed.text
    page = post_step(signed_in, page, {"confirm_existing_org_id": org_id}).text
    assert step_of(page) == "services"
    page = post_step(signed_in, page, {**SERVICES, "services": ["messaging"], "edition": ""}).text
    assert step_of(page) == "review"
    assert "Send trial request" in page
    assert "Save and set up now" not in page
    landed = post_step(signed_in, page, {"setup": "later"}).headers["location"]
    assert "Trial pending customer consent" in signed_in.get(landed).text


def test_add_a_trial_to_a_paid_customer(portal: Portal, signed_in: TestClient) -> None:
    org_id = paid_customer(portal)
    customer = next(
        c
        for c in signed_in.get("/v1/customers", headers=portal.sales.headers).json()["items"]
        if c["org_id"] == org_id
    )
    url = f"/customers/{customer['id']}/trials/new"
    page = signed_in.get(url).text
    assert "managed by Portal Partner" in page  # rule A1: who manages each purchased service
    assert 'id="service-meetings" name="services" type="checkbox" value="meetings" disabled' in page
    assert "Cannot be chosen:" in page  # rule S3, with its reason
    data = {
        "csrf_token": csrf_of(page),
        "idempotency_key": "k1",
        "services": ["meetings"],
        "edition": "meet",
        "user_licenses": "5",
    }
    refused = signed_in.post(url, data=data, follow_redirects=False)
    assert refused.status_code == 422
    assert "(rule S3)" in refused.text
    data = {**data, "services": ["messaging"], "idempotency_key": "k2"}
    assert signed_in.post(url, data=data, follow_redirects=False).status_code == 303
    assert signed_in.post(url, data=data, follow_redirects=False).status_code == 303
    trials = signed_in.get(f"/v1/customers/{customer['id']}", headers=portal.sales.headers)
    assert len(trials.json()["trials"]) == 1  # the double click started one


def test_read_only_gets_403_and_changes_nothing(portal: Portal) -> None:
    with portal.client() as reader:
        assert sign_in(reader, portal.read_only.actor.email).status_code == 303
        assert reader.get("/trials/new").status_code == 403
        token = csrf_of(reader.get("/customers").text)
        data = {**CUSTOMER, **SERVICES, **SITE, "csrf_token": token, "idempotency_key": "k"}
        for step in ("customer", "services", "review"):
            for go in ("next", "back"):
                answer = reader.post("/trials/new", data={**data, "step": step, "go": go})
                assert answer.status_code == 403, (step, go)
        assert reader.post("/trials/new/start", data={**data, "setup": "now"}).status_code == 403
        customers = reader.get("/v1/customers", headers=portal.read_only.headers).json()
        assert customers["items"] == []
        assert reader.get("/trials/trl_x/provision").status_code == 403


def test_every_wizard_post_needs_the_csrf_token(portal: Portal, signed_in: TestClient) -> None:
    data = {**CUSTOMER, **SERVICES, **SITE, "step": "customer", "setup": "now"}
    for path in ("/trials/new", "/trials/new/start", "/trials/trl_x/provision"):
        assert signed_in.post(path, data=data).status_code == 403, path
    api = signed_in.get("/v1/customers", headers=portal.sales.headers).json()
    assert api["items"] == []


def test_the_steps_and_the_add_page_cost_bounded_statements(
    portal: Portal, signed_in: TestClient
) -> None:
    """Issue 10: no N+1 — the same statements with one customer or many, few trials or more."""
    org_id = paid_customer(portal)
    customer_id = next(
        c["id"]
        for c in signed_in.get("/v1/customers", headers=portal.sales.headers).json()["items"]
        if c["org_id"] == org_id
    )

    def costs() -> tuple[int, int]:
        with statements(portal.ctx.db.engine) as review:
            walk_to_review(signed_in)
        with statements(portal.ctx.db.engine) as add:
            assert signed_in.get(f"/customers/{customer_id}/trials/new").status_code == 200
        return len(review), len(add)

    def add_trials(*codes: str) -> None:
        for code in codes:
            body = {"customer_id": customer_id, "services": [{"code": code}], "user_licenses": 5}
            assert signed_in.post("/v1/trials", json=body, headers=portal.sales.headers).is_success
            start = new_customer_body()
            start["customer"]["company_name"] = f"Other {code}"
            assert signed_in.post("/v1/trials", json=start, headers=portal.sales.headers).is_success

    # a customer's trials and their parts load one statement each, whatever their number
    add_trials("messaging")
    few = costs()
    add_trials("calling")
    assert costs() == few


def test_an_email_of_a_customer_in_the_list_points_at_adding_a_trial(
    portal: Portal, signed_in: TestClient
) -> None:
    """Rule C4: not a new customer; the existing step links to adding a trial (rule A1)."""
    org_id = paid_customer(portal)
    page = signed_in.get("/trials/new").text
    page = post_step(signed_in, page, {**CUSTOMER, "admin_email": "bill@initech.example"}).text
    assert step_of(page) == "existing"
    assert "add a trial to it instead (rule C4)" in page
    customer = signed_in.get("/v1/customers", headers=portal.sales.headers).json()["items"][0]
    assert customer["org_id"] == org_id
    assert f'href="/customers/{customer["id"]}/trials/new"' in page
    assert 'name="confirm_existing_org_id"' not in page
