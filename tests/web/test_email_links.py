"""The links in emails open portal pages, not the API's JSON."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.conftest import Portal
from trialhub.notify.render import JinjaRenderer

PUBLIC = "http://portal.example"
_LINK = re.compile(re.escape(PUBLIC) + r"(/[^\s\"<]*)")


def test_the_device_extension_email_links_the_queue_page(
    portal: Portal, signed_in: TestClient
) -> None:
    """Rule D6: the trials team decides in the portal's queue (`/devices/extension-
    requests`), the page the email opens, in both parts."""
    payload = {
        "organization": "Globex",
        "partner": "Reseller",
        "trial_id": "trl_1",
        "request_id": "dxr_1",
        "requested_end": "2026-08-01T00:00:00+00:00",
        "reason": None,
    }
    email = JinjaRenderer(PUBLIC, "https://buy.example/").render(
        "device_extension_requested", payload, recipient="team@vendor.example"
    )
    links = {m.replace("&amp;", "&") for m in _LINK.findall(email.text + email.html)}
    assert links == {"/devices/extension-requests?decision=pending"}
    assert f'href="{PUBLIC}/devices/extension-requests?decision=pending"' in email.html
    for path in links:
        page = signed_in.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
