"""`GET /v1/orders` and `GET /v1/device-extension-requests` are cursor-paginated like every
list (`{"items", "next_cursor"}`, `?limit=&cursor=`), and own-reach roles (rule P2) get full
pages of what they reach, never another customer's rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Login, World, new_customer_body


def _trial(client: TestClient, who: Login, services: list[dict[str, Any]]) -> dict[str, Any]:
    body = new_customer_body(services=services, meetings=None, user_licenses=5, duration_days=30)
    r = client.post("/v1/trials", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _walk(client: TestClient, path: str, who: Login, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        got = client.get(path, params=params, headers=who.headers)
        assert got.status_code == 200, got.text
        body = got.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def _bad_input(client: TestClient, path: str, who: Login) -> None:
    for params, field in (({"cursor": "garbage"}, "cursor"), ({"limit": 0}, "limit")):
        got = client.get(path, params=params, headers=who.headers)
        assert (got.status_code, got.json()["field"]) == (422, field)


def _order(client: TestClient, who: Login, trial: dict[str, Any]) -> str:
    detail = client.get(f"/v1/customers/{trial['customer_id']}", headers=who.headers).json()
    contact = detail["organization"]["admins"][0]["email"]
    body = {
        "services": [{"code": "calling", "quantity": 5}],
        "provisioning_email": contact,
        "confirm_lost_services": True,
    }
    r = client.post(f"/v1/trials/{trial['id']}/convert", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_orders_come_a_page_at_a_time(client: TestClient, world: World) -> None:
    services = [{"code": "calling"}, {"code": "messaging"}]
    # the sales administrator reaches only the customer it provisioned (rule P2)
    people = [world.sales_full, world.sales, world.sales_full, world.sales_full]
    ids = [_order(client, who, _trial(client, who, services)) for who in people]
    everything = _walk(client, "/v1/orders", world.operator, 200)
    assert sorted(everything[0]) == sorted(ids)
    pages = _walk(client, "/v1/orders", world.operator, 2)
    assert pages == [everything[0][:2], everything[0][2:]]
    assert _walk(client, "/v1/orders", world.sales, 1) == [[ids[1]]]
    own = _walk(client, "/v1/orders", world.sales_full, 1)
    assert [i for page in own for i in page] == everything[0]  # full reach: every order
    _bad_input(client, "/v1/orders", world.operator)


def test_device_extension_requests_come_a_page_at_a_time(client: TestClient, world: World) -> None:
    services = [{"code": "room_devices", "quantity": 2}, {"code": "calling"}]
    people = [world.sales_full, world.sales, world.sales_full]
    ids = []
    for who in people:
        trial = _trial(client, who, services)
        end = trial["ends_at"].replace("Z", "+00:00")
        wanted = datetime.fromisoformat(end) + timedelta(days=20)
        url = f"/v1/trials/{trial['id']}/device-extension-requests"
        r = client.post(url, json={"requested_end": wanted.isoformat()}, headers=who.headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    path = "/v1/device-extension-requests"
    everything = _walk(client, path, world.operator, 200)
    assert sorted(everything[0]) == sorted(ids)
    assert _walk(client, path, world.operator, 2) == [everything[0][:2], everything[0][2:]]
    assert _walk(client, path, world.sales, 1) == [[ids[1]]]
    _bad_input(client, path, world.operator)
