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


# rule E3 and issue 8 item 3: an address in any notation the resolver accepts is judged by
# where it really points (2852039166 is 169.254.169.254, the cloud metadata service)
DISGUISED = [
    "https://2852039166/",  # 169.254.169.254 as one decimal number
    "https://0xa9fea9fe/",  # ... in hexadecimal
    "https://0251.0376.0251.0376/",  # ... in octal parts
    "https://169.254.43518/",  # ... as a.b.c with a 16-bit last part
    "https://169.254.169.254./",  # ... with the root's trailing dot
    "https://127.1/",  # loopback, short form
    "https://0x7f.1/",
    "https://0/",  # 0.0.0.0 reaches this machine on Linux
    "https://[::127.0.0.1]/",  # IPv4-compatible IPv6
    "https://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
    "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 (RFC 6052) of 169.254.169.254
    "https://[64:ff9b::10.0.0.7]/",
    "https://[64:ff9b:1::a00:7]/",  # local-use NAT64 (RFC 8215)
    "https://[2002:a9fe:a9fe::1]/",  # 6to4 around a link-local address
    "https://224.0.0.1/",  # multicast
    "https://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "https://999.1.1.1/",  # numeric, yet no address at all
    "https://08/",
    # this machine, when loopback is not allowed (production)
    "https://localhost/",
    "https://127.0.0.1/",
    "https://[::1]/",
    "http://127.0.0.1:9/hook",
]


@pytest.mark.parametrize("url", DISGUISED)
def test_addresses_in_disguise_are_refused(
    sqlite_client: TestClient, sqlite_world: World, url: str
) -> None:
    sqlite_world.ctx.webhook_allow_loopback = False  # the production setting
    h = sqlite_world.sales_full.headers
    r = sqlite_client.post("/v1/webhooks", json={**HOOK, "url": url}, headers=h)
    assert r.status_code == 422, r.text
    assert (r.json()["field"], r.json()["rule"]) == ("url", "E3")
    assert sqlite_client.get("/v1/webhooks", headers=h).json() == []


def test_loopback_is_allowed_only_by_the_development_setting(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    h = sqlite_world.sales_full.headers
    body = {**HOOK, "url": "http://127.0.0.1:9/hook"}
    assert sqlite_client.post("/v1/webhooks", json=body, headers=h).status_code == 201
    sqlite_world.ctx.webhook_allow_loopback = False
    assert sqlite_client.post("/v1/webhooks", json=body, headers=h).status_code == 422
    public = {**HOOK, "url": "https://93.184.215.14/hook"}
    assert sqlite_client.post("/v1/webhooks", json=public, headers=h).status_code == 201
