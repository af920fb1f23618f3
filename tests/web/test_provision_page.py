"""The provisioning page ("Awaiting provisioning details"): the Meetings site URL and time
zone were chosen when the trial was started and the site name is held since then (rule
S2; the article's step 7 comes before "Send trial request"), so the page shows them read-
only and says why; posting them anyway changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import Portal, csrf_of
from tests.web.test_wizard_pages import post_step, walk_to_review


def _awaiting(client: TestClient) -> str:
    review = walk_to_review(client)
    landed = post_step(client, review, {"setup": "later"}).headers["location"]
    return str(landed.split("/")[2])


def test_the_site_and_time_zone_are_read_only_and_the_page_says_why(
    portal: Portal, signed_in: TestClient
) -> None:
    trial_id = _awaiting(signed_in)
    form = signed_in.get(f"/trials/{trial_id}/provision").text
    assert "<dd>acme-corp.webex.com</dd>" in form
    assert "<dd>Europe/Paris</dd>" in form
    assert 'name="site_url"' not in form
    assert 'name="time_zone"' not in form
    assert "chosen when the trial was started" in form
    assert "(rule S2)" in form
    done = signed_in.post(
        f"/trials/{trial_id}/provision",
        data={"csrf_token": csrf_of(form), "site_url": "other.webex.com", "time_zone": "UTC"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    trial = signed_in.get(f"/v1/trials/{trial_id}", headers=portal.sales.headers).json()
    assert trial["status"] == "active"
    assert trial["meetings_site"]["url"] == "acme-corp.webex.com"
    assert trial["meetings_site"]["time_zone"] == "Europe/Paris"


def test_services_are_named_by_their_edition_not_its_code(
    portal: Portal, signed_in: TestClient
) -> None:
    """Walking the portal by hand: the provisioning page, the saved trial's page and the
    customer page said "Webex Meetings (enterprise)", the edition's code."""
    trial_id = _awaiting(signed_in)
    trial = signed_in.get(f"/v1/trials/{trial_id}", headers=portal.sales.headers).json()
    for path in (
        f"/trials/{trial_id}/provision",
        f"/trials/{trial_id}/started",
        f"/customers/{trial['customer_id']}",
    ):
        page = signed_in.get(path).text
        assert "Webex Meetings Enterprise Edition, Webex Messaging" in page, path
        assert "(enterprise)" not in page, path
