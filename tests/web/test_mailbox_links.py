"""The local mailbox's email page: the web addresses of the plain text are links, since the
HTML part's links cannot open anything from its sandbox (walking the portal by hand, the
consent link of a trial request could not be followed from the mailbox)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.web.test_security_headers import _consent_token, app, client
from trialhub.web.mailbox_pages import text_with_links

__all__ = ["app", "client"]  # the fixtures: a demo app with the local mailbox


def test_the_consent_link_of_the_email_can_be_followed(
    client: TestClient, sqlite_world: World
) -> None:
    token = _consent_token(client, sqlite_world)
    page = client.get("/mailbox/1").text
    link = re.search(r'<pre>.*<a href="([^"]+)">', page, re.S)
    assert link, page
    assert link.group(1).endswith(f"/consent/{token}")
    assert "links open nothing" in page  # the HTML part says why it is not the one to click
    assert client.get(f"/consent/{token}").status_code == 200


def test_addresses_are_cut_out_of_the_text_without_closing_punctuation() -> None:
    parts = text_with_links("Open https://x.example/consent/ab-1. Or (http://y.example/a).")
    assert parts == [
        ("Open ", False),
        ("https://x.example/consent/ab-1", True),
        (". Or (", False),
        ("http://y.example/a", True),
        (").", False),
    ]
    assert text_with_links("no link <b>") == [("no link <b>", False)]


def test_the_text_stays_escaped(client: TestClient, sqlite_world: World) -> None:
    _consent_token(client, sqlite_world)
    page = client.get("/mailbox/1").text
    body = page.split("<pre>")[1].split("</pre>")[0]
    assert "<" not in re.sub(r'<a href="[^"]+">[^<]+</a>', "", body)
