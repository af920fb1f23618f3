"""Small things found walking every flow of the portal by hand in Chromium, each pinned:
words and fields that did not fit the trial's state or the page."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import Portal, csrf_of
from tests.web.test_customers_page import paid_customer
from tests.web.test_wizard_pages import CUSTOMER, post_step, walk_to_review


def _customer_of(client: TestClient, portal: Portal, org_id: str) -> str:
    found = client.get("/v1/customers", headers=portal.sales.headers).json()["items"]
    return str(next(c["id"] for c in found if c["org_id"] == org_id))


def _add_trial(client: TestClient, customer_id: str, service: str) -> str:
    """The id of a trial of one user service added from the customer's "+" page (A1)."""
    data = {
        "csrf_token": csrf_of(client.get("/customers").text),
        "idempotency_key": f"add-{customer_id}-{service}",
        "services": [service],
        "user_licenses": "5",
    }
    added = client.post(f"/customers/{customer_id}/trials/new", data=data, follow_redirects=False)
    return str(added.headers["location"].split("/")[2])


def test_the_add_page_asks_no_meetings_site_when_meetings_cannot_be_chosen(
    portal: Portal, signed_in: TestClient
) -> None:
    """Rule S2: the site belongs to Meetings; a customer that bought Meetings (S3) was still
    asked for one."""
    customer = _customer_of(signed_in, portal, paid_customer(portal))
    page = signed_in.get(f"/customers/{customer}/trials/new").text
    assert "Cannot be chosen:" in page
    assert 'name="site_url"' not in page
    assert "Webex Meetings site" not in page


def test_the_add_page_asks_the_site_when_meetings_can_be_chosen(
    portal: Portal, signed_in: TestClient
) -> None:
    customer = _customer_of(signed_in, portal, paid_customer(portal, "Hooli", "messaging"))
    page = signed_in.get(f"/customers/{customer}/trials/new").text
    assert 'name="site_url"' in page


def test_the_saved_trial_page_drops_the_consent_deadline_once_consent_is_given(
    portal: Portal, signed_in: TestClient
) -> None:
    """An active trial still said "Consent needed by ... (rule K6)" after provisioning."""
    review = walk_to_review(signed_in)
    landed = post_step(signed_in, review, {"setup": "now"}).headers["location"]
    page = signed_in.get(landed).text
    assert "Active" in page
    assert "Consent needed by" not in page


def test_the_customer_page_names_the_country(portal: Portal, signed_in: TestClient) -> None:
    """The customer page said "DE" where the wizard and the add page say "Germany"."""
    review = walk_to_review(signed_in, {**CUSTOMER, "country": "DE"})
    landed = post_step(signed_in, review, {"setup": "now"}).headers["location"]
    trial = signed_in.get(f"/v1/trials/{landed.split('/')[2]}", headers=portal.sales.headers)
    page = signed_in.get(f"/customers/{trial.json()['customer_id']}").text
    assert "<dt>Country</dt><dd>Germany</dd>" in page


def test_edit_services_chooses_the_time_zone_from_the_list_and_asks_no_site_needlessly(
    portal: Portal, signed_in: TestClient
) -> None:
    """Edit services had a free-text time zone (the wizard a list), and asked for a
    Meetings site even when Meetings could not be added."""
    customer = _customer_of(signed_in, portal, paid_customer(portal, "Hooli", "messaging"))
    trial = _add_trial(signed_in, customer, "calling")
    page = signed_in.get(f"/trials/{trial}/services").text
    assert '<select id="time_zone" name="time_zone"' in page
    assert "<option>Europe/Paris</option>" in page
    data = {
        "csrf_token": csrf_of(page),
        "add": "meetings",
        "edition_meetings": "enterprise",
        "site_url": "hooli.webex.com",
        "time_zone": "Europe/Nowhere",
    }
    refused = signed_in.post(f"/trials/{trial}/services", data=data)
    assert refused.status_code == 422
    assert 'id="meetings-time_zone-error"' in refused.text  # the rule's words by the field
    assert "<option selected>Europe/Nowhere</option>" not in refused.text
    data["time_zone"] = "Europe/Paris"
    done = signed_in.post(f"/trials/{trial}/services", data=data, follow_redirects=False)
    assert done.status_code == 303
    # a customer that bought Meetings is not asked for a site
    bought = _customer_of(signed_in, portal, paid_customer(portal))
    added = _add_trial(signed_in, bought, "messaging")
    assert 'name="site_url"' not in signed_in.get(f"/trials/{added}/services").text


def test_the_convert_page_says_whose_email_the_provisioning_email_is(
    portal: Portal, signed_in: TestClient
) -> None:
    """The field named no one: rule V2 (and the article: "enter yourself")."""
    review = walk_to_review(signed_in)
    landed = post_step(signed_in, review, {"setup": "now"}).headers["location"]
    page = signed_in.get(f"/trials/{landed.split('/')[2]}/convert").text
    assert 'aria-describedby="provisioning_email-hint"' in page
    assert "(we recommend yourself, sales@portal.example)" in page
    assert "(rule V2)" in page


def test_the_trials_team_is_shown_where_its_work_is_not_a_refusal(portal: Portal) -> None:
    """The trials team's sign-in landed on Customers saying "Only partner administrators
    can do this.", and its menu offered Customers and Activity, both refused (rule P2)."""
    from tests.conftest import make_admin
    from tests.web.conftest import PASSWORD, sign_in

    ops = make_admin(
        portal.ctx, partner_id=None, roles=("operator",), email="ops@x.example", password=PASSWORD
    )
    with portal.client() as client:
        assert sign_in(client, ops.actor.email).headers["location"] == "/customers"
        page = client.get("/customers").text
        assert "Only partner administrators" not in page
        assert '<a href="/devices/extension-requests">Device requests</a>' in page
        assert 'name="q"' not in page  # no filters of a list it has not
        assert 'href="/customers"' not in page.split("</nav>")[0]  # nor in its menu
        assert 'href="/activity"' not in page
        assert 'href="/settings"' in page
        assert client.get("/", follow_redirects=False).headers["location"] == (
            "/devices/extension-requests"
        )
    with portal.client() as client:  # a partner's home is still its customer list
        assert sign_in(client, portal.sales.actor.email).headers["location"] == "/customers"
        assert client.get("/", follow_redirects=False).headers["location"] == "/customers"


def test_the_devices_page_leads_back_to_the_customer_page_that_exists(
    portal: Portal, signed_in: TestClient
) -> None:
    """ "Back to the customer" pointed at /customers/<organization id>: a 404 for everyone;
    the trials team, which has no customer pages, goes back to its queue."""
    from tests.conftest import make_admin
    from tests.web.conftest import PASSWORD, signed_as

    review = walk_to_review(signed_in)
    trial_id = post_step(signed_in, review, {"setup": "now"}).headers["location"].split("/")[2]
    trial = signed_in.get(f"/v1/trials/{trial_id}", headers=portal.sales.headers).json()
    page = signed_in.get(f"/trials/{trial_id}/devices").text
    assert f'<a href="/customers/{trial["customer_id"]}">Back to the customer</a>' in page
    assert signed_in.get(f"/customers/{trial['customer_id']}").status_code == 200
    ops = make_admin(
        portal.ctx, partner_id=None, roles=("operator",), email="ops@x.example", password=PASSWORD
    )
    with signed_as(portal, ops) as client:
        page = client.get(f"/trials/{trial_id}/devices").text
    assert "Back to the customer" not in page
    assert '<a href="/devices/extension-requests">Back to the device requests</a>' in page


def _request_consent(portal: Portal, client: TestClient) -> dict[str, Any]:
    """A trial request to an existing organization, pending its consent (rule K4)."""
    from tests.conftest import new_customer_body
    from tests.support.factories import make_org

    org = make_org(portal.ctx, full=("boss@globex.example",))
    body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=20)
    body["customer"]["admin_email"] = "boss@globex.example"
    body["confirm_existing_org_id"] = org
    return dict(client.post("/v1/trials", json=body, headers=portal.sales.headers).json())


def test_a_request_to_an_existing_organization_is_said_sent_not_saved(
    portal: Portal, signed_in: TestClient
) -> None:
    """The page after "Send trial request" said "The trial was saved."."""
    trial = _request_consent(portal, signed_in)
    page = signed_in.get(f"/trials/{trial['id']}/started").text
    assert "<h1>The trial request was sent.</h1>" in page
    assert "Trial pending customer consent" in page


def test_cancelling_a_request_says_so_on_the_list_it_lands_on(
    portal: Portal, signed_in: TestClient
) -> None:
    """Cancel request landed on Customers without a word, the customer simply gone."""
    trial = _request_consent(portal, signed_in)
    page = signed_in.get(f"/customers/{trial['customer_id']}").text
    answer = signed_in.post(
        f"/trials/{trial['id']}/cancel", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert answer.headers["location"] == "/customers?done=cancelled"
    listed = signed_in.get(answer.headers["location"]).text
    assert "The trial request was cancelled; the customer left your list (rule K5)." in listed
    assert "No customers yet." in listed  # and the empty list does not speak of a filter
    assert 'href="/trials/new">Start a trial</a>' in listed
    assert "No customers match." in signed_in.get("/customers?q=nobody").text
