"""Webhook subscriptions through the API: who may manage them (rules P2, P3), the secret shown
once, and bad URLs or event types refused with a 422 that names the field (rule E3)."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, make_world

HOOK = {"url": "https://hooks.example.com/trialhub", "event_types": ["trial.created"]}


@pytest.mark.parametrize("role", ["partner_full_admin", "sales_full_admin"])
def test_full_administrators_manage_webhooks(
    sqlite_client: TestClient, sqlite_world: World, role: str
) -> None:
    h = sqlite_world.login(role).headers
    created = sqlite_client.post("/v1/webhooks", json=HOOK, headers=h)
    assert created.status_code == 201
    wid = created.json()["id"]
    assert [w["id"] for w in sqlite_client.get("/v1/webhooks", headers=h).json()] == [wid]
    assert sqlite_client.get(f"/v1/webhooks/{wid}/deliveries", headers=h).json() == []
    deleted = sqlite_client.delete(f"/v1/webhooks/{wid}", headers=h)
    assert deleted.status_code == 200
    assert deleted.json()["disabled_at"] is not None
    again = sqlite_client.delete(f"/v1/webhooks/{wid}", headers=h)  # a repeat changes nothing
    assert again.json()["disabled_at"] == deleted.json()["disabled_at"]


@pytest.mark.parametrize("role", ["sales_admin", "partner_admin", "read_only"])
def test_other_roles_are_refused(sqlite_client: TestClient, sqlite_world: World, role: str) -> None:
    wid = sqlite_client.post("/v1/webhooks", json=HOOK, headers=sqlite_world.sales_full.headers)
    wid = wid.json()["id"]
    h = sqlite_world.login(role).headers
    for r in (
        sqlite_client.post("/v1/webhooks", json=HOOK, headers=h),
        sqlite_client.get("/v1/webhooks", headers=h),
        sqlite_client.delete(f"/v1/webhooks/{wid}", headers=h),
        sqlite_client.get(f"/v1/webhooks/{wid}/deliveries", headers=h),
    ):
        assert r.status_code == 403, r.request.url
        assert r.json()["rule"] == "P2"


def test_another_partners_webhook_is_not_found(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    wid = sqlite_client.post("/v1/webhooks", json=HOOK, headers=sqlite_world.sales_full.headers)
    wid = wid.json()["id"]
    other = make_world(sqlite_world.ctx, name="Partner B").partner_full.headers
    for r in (
        sqlite_client.delete(f"/v1/webhooks/{wid}", headers=other),
        sqlite_client.get(f"/v1/webhooks/{wid}/deliveries", headers=other),
        sqlite_client.delete("/v1/webhooks/whk_nosuch", headers=other),
    ):
        assert r.status_code == 404
        assert r.json()["rule"] == "P3"
    assert sqlite_client.get("/v1/webhooks", headers=other).json() == []
    mine = sqlite_client.get("/v1/webhooks", headers=sqlite_world.sales_full.headers).json()
    assert mine[0]["disabled_at"] is None  # untouched by the other partner's delete


def test_the_secret_is_shown_once(sqlite_client: TestClient, sqlite_world: World) -> None:
    h = sqlite_world.partner_full.headers
    first = sqlite_client.post("/v1/webhooks", json=HOOK, headers=h).json()
    second = sqlite_client.post("/v1/webhooks", json=HOOK, headers=h).json()
    for created in (first, second):
        prefix, key = created["secret"].split("_", 1)
        assert prefix == "whsec"
        assert len(base64.b64decode(key, validate=True)) >= 24  # Standard Webhooks: 24-64
    assert first["secret"] != second["secret"]
    listed = sqlite_client.get("/v1/webhooks", headers=h)
    deleted = sqlite_client.delete(f"/v1/webhooks/{first['id']}", headers=h)
    for text in (listed.text, deleted.text):
        assert first["secret"] not in text
        assert second["secret"] not in text
    assert {w["secret"] for w in listed.json()} == {None}


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/hook",  # broken IPv6 host: urlsplit raises
        "https://hooks.example.com:99999/x",
        "https://hooks.example.com:0/x",
        "https://hooks.example.com:https/x",
        "https://a..b/x",  # an empty label: the IDNA codec raises at send time
        "https://-bad-.example.com/",
        "https://" + "a" * 64 + ".example.com/",
        "https://exa mple.com/",
        "https://hooks.example.com/\x00",
        "https:///no-host",
        "ftp://hooks.example.com/",
        "hooks.example.com/x",
        "http://hooks.example.com/",  # clear text off this machine
        "http://10.0.0.7/hook",
        "https://10.0.0.7/hook",  # private networks (SSRF)
        "https://192.168.1.20/hook",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://user:secret@hooks.example.com/x",  # credentials would be listed in clear
        "https://token@hooks.example.com/x",
    ],
)
def test_bad_urls_are_refused_and_store_nothing(
    sqlite_client: TestClient, sqlite_world: World, url: str
) -> None:
    h = sqlite_world.sales_full.headers
    r = sqlite_client.post("/v1/webhooks", json={**HOOK, "url": url}, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "url"
    assert sqlite_client.get("/v1/webhooks", headers=h).json() == []


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/trialhub?x=1",
        "https://hooks.example.com:8443/x",
        "https://bücher.example/hook",  # sent as its punycode form
        "https://93.184.215.14/hook",  # a public address
        "http://localhost:8080/hook",
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
    ],
)
def test_good_urls_are_accepted(sqlite_client: TestClient, sqlite_world: World, url: str) -> None:
    r = sqlite_client.post(
        "/v1/webhooks", json={**HOOK, "url": url}, headers=sqlite_world.sales_full.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["url"] == url


@pytest.mark.parametrize(
    ("event_types", "field"),
    [
        ([], "event_types"),
        (["trial. created"], "event_types[0]"),
        (["*", "Trial.Created"], "event_types[1]"),
        (["trial"], "event_types[0]"),
        (["trial.created."], "event_types[0]"),
        (["a." + "b" * 80], "event_types[0]"),
        ([f"trial.t{i}" for i in range(51)], "event_types"),
    ],
)
def test_bad_event_types_are_refused(
    sqlite_client: TestClient, sqlite_world: World, event_types: list[str], field: str
) -> None:
    r = sqlite_client.post(
        "/v1/webhooks",
        json={**HOOK, "event_types": event_types},
        headers=sqlite_world.sales_full.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_event_types_are_kept_sorted_and_unique(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    kinds = ["trial.expired", "customer.consented", "trial.notice_7d", "trial.expired", "*"]
    r = sqlite_client.post(
        "/v1/webhooks", json={**HOOK, "event_types": kinds}, headers=sqlite_world.sales_full.headers
    )
    assert r.status_code == 201
    assert r.json()["event_types"] == sorted(set(kinds))
