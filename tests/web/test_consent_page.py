"""The consent page a customer full administrator opens from the email (rules K2, K3)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.support.factories import links, make_org, request_consent


def test_full_admin_accepts_in_the_browser(sqlite_client: TestClient, sqlite_world: World) -> None:
    world, client = sqlite_world, sqlite_client
    org = make_org(world.ctx, full=("boss@globex.example",), others=("it@globex.example",))
    trial = request_consent(client, world, org, "it@globex.example")
    tokens = links(world.ctx)
    page = client.get(f"/consent/{tokens['boss@globex.example']}")
    assert page.status_code == 200
    assert "Partner A" in page.text
    assert "Webex Calling" in page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    # the non-full admin sees the request but gets no buttons (rule K2)
    other = client.get(f"/consent/{tokens['it@globex.example']}")
    assert "Only a full administrator" in other.text
    assert 'value="accept"' not in other.text
    # a post without the CSRF token is refused and changes nothing
    forged = client.post(f"/consent/{tokens['boss@globex.example']}", data={"decision": "accept"})
    assert forged.status_code == 403
    got = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers).json()
    assert got["status"] == "pending_consent"
    done = client.post(
        f"/consent/{tokens['boss@globex.example']}",
        data={"decision": "accept", "csrf": csrf},  # Full Admin box unticked (rule K3)
    )
    assert done.status_code == 200
    assert "provisioning administrator access" in done.text
    customer = client.get(f"/v1/customers/{trial['customer_id']}", headers=world.sales_full.headers)
    assert customer.json()["access"] == "provisioning"
    again = client.get(f"/consent/{tokens['boss@globex.example']}")
    assert again.status_code == 410
    assert "already used" in again.text


def test_unknown_link(sqlite_client: TestClient) -> None:
    page = sqlite_client.get("/consent/nothing-here")
    assert page.status_code == 404
    assert "not valid" in page.text
