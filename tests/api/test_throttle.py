"""Guessing secrets is throttled (rule X1): failed bearer tokens and unknown consent links
count per client address, and past the limit the answer is 429 with Retry-After."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from limits.storage import RedisStorage
from sqlalchemy import func, select

from tests.conftest import IN_CI, World
from tests.support.apps import app_for
from tests.support.factories import links, make_org, request_consent
from tests.support.statements import statements
from trialhub.api.app import create_app
from trialhub.bootstrap import build_rate_storage, make_context
from trialhub.clock import MovableClock
from trialhub.domain.policy import DEFAULT_POLICY, FailureLimit
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.throttle import address_key
from trialhub.settings import Settings
from trialhub.store import tables
from trialhub.store.db import Database
from trialhub.store.rate_limits import DatabaseStorage

PER_MINUTE = DEFAULT_POLICY.failures_per_address[0]
ATTACKER = ("203.0.113.7", 40000)
BYSTANDER = ("198.51.100.2", 40000)
BAD = {"Authorization": "Bearer th_not-a-real-token"}


@pytest.fixture
def app_of(sqlite_world: World) -> Iterator[dict[tuple[str, int], TestClient]]:
    """One app, a client per address (the socket peer the server sees)."""
    app = app_for(sqlite_world.ctx)
    clients = {peer: TestClient(app, client=peer) for peer in (ATTACKER, BYSTANDER)}
    yield clients
    for c in clients.values():
        c.close()


def assert_throttled(response: object) -> int:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["rule"], body["status"]) == ("rate_limited", "X1", 429)
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= PER_MINUTE.seconds
    return wait


def test_bad_bearer_tokens_are_throttled_per_address(
    app_of: dict[tuple[str, int], TestClient], sqlite_world: World, clock: MovableClock
) -> None:  # rule X1
    attacker, bystander = app_of[ATTACKER], app_of[BYSTANDER]
    good = sqlite_world.sales_full.headers
    codes = [attacker.get("/v1/me", headers=BAD).status_code for _ in range(30)]
    assert codes == [401] * PER_MINUTE.failures + [429] * (30 - PER_MINUTE.failures)
    assert_throttled(attacker.get("/v1/me", headers=BAD))
    # another address is not locked out, and a valid token from it works
    assert bystander.get("/v1/me", headers=BAD).status_code == 401
    assert bystander.get("/v1/me", headers=good).status_code == 200
    # from the locked address no token is looked up, or a guess that hit would be answered
    assert_throttled(attacker.get("/v1/me", headers=good))
    clock.advance(timedelta(seconds=PER_MINUTE.seconds))
    assert attacker.get("/v1/me", headers=good).status_code == 200
    assert attacker.get("/v1/me", headers=BAD).status_code == 401


def test_successes_never_count(
    app_of: dict[tuple[str, int], TestClient], sqlite_world: World
) -> None:  # rule X1: heavy legitimate use is not slowed
    client = app_of[ATTACKER]
    for _ in range(3 * PER_MINUTE.failures):
        assert client.get("/v1/me", headers=sqlite_world.sales_full.headers).status_code == 200
    codes = [client.get("/v1/me", headers=BAD).status_code for _ in range(PER_MINUTE.failures)]
    assert codes == [401] * PER_MINUTE.failures
    # a request without any token guesses nothing and is not counted
    assert client.get("/v1/me").status_code == 401
    assert_throttled(client.get("/v1/me", headers=BAD))


def test_the_retry_after_counts_down_with_the_clock(
    app_of: dict[tuple[str, int], TestClient], clock: MovableClock
) -> None:
    client = app_of[ATTACKER]
    for _ in range(PER_MINUTE.failures):
        client.get("/v1/me", headers=BAD)
    first = assert_throttled(client.get("/v1/me", headers=BAD))
    clock.advance(timedelta(seconds=20))
    assert assert_throttled(client.get("/v1/me", headers=BAD)) == first - 20


def test_the_hourly_limit_outlasts_the_minute(sqlite_ctx: Context, clock: MovableClock) -> None:
    minute, hour = FailureLimit(3, 60), FailureLimit(7, 3600)
    policy = replace(DEFAULT_POLICY, failures_per_address=(minute, hour))
    app = app_for(replace(sqlite_ctx, policy=policy))
    with TestClient(app, client=ATTACKER) as client:
        codes = []
        for _ in range(3):  # 3 + 3 + 1 failures over three minutes
            codes += [client.get("/v1/me", headers=BAD).status_code for _ in range(minute.failures)]
            clock.advance(timedelta(seconds=minute.seconds))
        assert codes == [401] * hour.failures + [429] * (3 * minute.failures - hour.failures)
        wait = int(client.get("/v1/me", headers=BAD).headers["Retry-After"])
        assert wait == hour.seconds - 3 * minute.seconds  # the hour began with the first one


def test_an_authenticated_request_reads_its_limits_in_one_query(
    app_of: dict[tuple[str, int], TestClient], sqlite_world: World
) -> None:
    """Issue 11: every bearer request checks the address's limits (a minute's and an
    hour's) before looking the token up: one query for both, not one each; a locked
    address is still refused by the second one alone (the test above covers the minute)."""
    client = app_of[ATTACKER]
    with statements(sqlite_world.ctx.db.engine) as sent:
        assert client.get("/v1/me", headers=sqlite_world.sales_full.headers).status_code == 200
    reads = [q for q in sent if "rate_limit_counters" in q]
    assert len(reads) == 1, reads
    assert len(DEFAULT_POLICY.failures_per_address) == 2  # both in that one query


def test_forwarded_for_is_believed_only_from_a_configured_proxy(sqlite_ctx: Context) -> None:
    proxy = ("10.1.2.3", 40000)

    def spoofed(i: int) -> dict[str, str]:
        return {**BAD, "X-Forwarded-For": f"192.0.2.{i}"}

    # not configured: the header is ignored, every attempt is the peer's
    with TestClient(app_for(sqlite_ctx), client=proxy) as direct:
        codes = [direct.get("/v1/me", headers=spoofed(i)).status_code for i in range(30)]
        assert codes.count(401) == PER_MINUTE.failures
    # behind a trusted proxy, each forwarded client has its own count
    app = app_for(sqlite_ctx, forwarded_allow_ips="10.1.2.3")
    with TestClient(app, client=proxy) as behind, TestClient(app, client=ATTACKER) as other:
        for _ in range(PER_MINUTE.failures):
            assert behind.get("/v1/me", headers=spoofed(200)).status_code == 401
        assert_throttled(behind.get("/v1/me", headers=spoofed(200)))
        assert behind.get("/v1/me", headers=spoofed(201)).status_code == 401
        # a peer that is not the proxy cannot pick its address with the header
        for i in range(PER_MINUTE.failures):
            assert other.get("/v1/me", headers=spoofed(i)).status_code == 401
        assert_throttled(other.get("/v1/me", headers=spoofed(99)))


def test_an_ipv6_client_counts_by_its_64() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("testclient") == "testclient"


# ---- consent links -------------------------------------------------------------------------


def test_consent_link_guesses_are_throttled_on_the_page_and_the_api(
    app_of: dict[tuple[str, int], TestClient], sqlite_world: World
) -> None:  # rule X1
    attacker, bystander = app_of[ATTACKER], app_of[BYSTANDER]
    org = make_org(sqlite_world.ctx, full=("boss@globex.example",))
    request_consent(bystander, sqlite_world, org, "boss@globex.example")
    real = links(sqlite_world.ctx)["boss@globex.example"]
    half = PER_MINUTE.failures // 2
    # the page and the API share one count
    assert {attacker.get(f"/consent/guess-{i}").status_code for i in range(half)} == {404}
    api = {attacker.get(f"/v1/consent/guess-{i}").status_code for i in range(half, 2 * half)}
    assert api == {404}
    assert_throttled(attacker.get("/v1/consent/guess-x"))
    assert_throttled(attacker.post("/v1/consent/guess-x", json={"decision": "decline"}))
    page = attacker.get("/consent/guess-y")
    assert page.status_code == 429
    assert "Too many failed attempts" in page.text
    assert int(page.headers["Retry-After"]) >= 1
    posted = attacker.post(f"/consent/{real}", data={"decision": "decline", "csrf": "x"})
    assert posted.status_code == 429
    # the real link still works for its owner elsewhere, and nothing was decided
    view = bystander.get(f"/v1/consent/{real}")
    assert view.status_code == 200
    assert view.json()["status"] == "pending_consent"
    # bearer tokens have their own count: the attacker's API calls still authenticate
    assert attacker.get("/v1/me", headers=sqlite_world.sales_full.headers).status_code == 200


def test_used_links_are_not_guesses(
    app_of: dict[tuple[str, int], TestClient], sqlite_world: World
) -> None:
    client = app_of[BYSTANDER]
    org = make_org(sqlite_world.ctx, full=("boss@globex.example",))
    request_consent(client, sqlite_world, org, "boss@globex.example")
    real = links(sqlite_world.ctx)["boss@globex.example"]
    assert client.post(f"/v1/consent/{real}", json={"decision": "decline"}).status_code == 200
    # a customer reopening an answered link learns that it was used, and is never locked out
    codes = {client.get(f"/v1/consent/{real}").status_code for _ in range(PER_MINUTE.failures)}
    assert codes == {410}
    assert client.get("/v1/consent/unknown").status_code == 404


# ---- the shared stores ---------------------------------------------------------------------


@pytest.mark.postgres
def test_processes_on_one_database_share_the_count(
    pg_url: str, clock: MovableClock
) -> None:  # two servers (contexts and apps) on one PostgreSQL database
    dbs = [Database.open(pg_url), Database.open(pg_url)]
    try:
        apps = [create_app(make_context(db=db, clock=clock)) for db in dbs]
        with (
            TestClient(apps[0], client=ATTACKER) as one,
            TestClient(apps[1], client=ATTACKER) as two,
        ):
            for i in range(PER_MINUTE.failures):
                assert (one if i % 2 else two).get("/v1/me", headers=BAD).status_code == 401
            assert_throttled(one.get("/v1/me", headers=BAD))
            assert_throttled(two.get("/v1/me", headers=BAD))
    finally:
        for db in dbs:
            db.dispose()


@pytest.mark.both_backends  # the database's counter table is the subject (tests/conftest.py)
def test_ended_windows_are_swept(ctx: Context, clock: MovableClock) -> None:
    storage = DatabaseStorage(ctx.db, clock.now)
    for i in range(5):
        assert storage.incr(f"k{i}", 60) == 1
    assert storage.incr("k0", 60) == 2
    assert storage.get("k0") == 2
    assert storage.get_expiry("k0") == (clock.now() + timedelta(seconds=60)).timestamp()
    clock.advance(timedelta(seconds=61))
    assert storage.get("k0") == 0
    assert storage.incr("k0", 60) == 1  # a new window in the same row; the others go
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(tables.rate_limit_counters)).scalar()
    assert rows == 1


REDIS_URL = os.environ.get("TRIALHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """Redis with this test's own key prefix; under CI=true a missing server fails the run."""
    probe = RedisStorage(REDIS_URL, wrap_exceptions=True)
    if not probe.check():
        if IN_CI:
            pytest.fail(f"Redis is required in CI but not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL


def test_the_redis_store_is_shared(
    redis_url: str, sqlite_template: Path, tmp_path: Path, clock: MovableClock
) -> None:  # two servers on two databases: only Redis can carry the count from one to the other
    prefix = f"trialhub-test-{uuid.uuid4().hex}"
    stores = [RedisStorage(redis_url, key_prefix=prefix, wrap_exceptions=True) for _ in "ab"]
    dbs = []
    for name in "ab":
        path = tmp_path / f"{name}.db"
        path.write_bytes(sqlite_template.read_bytes())
        dbs.append(Database.open(f"sqlite:///{path}"))
    try:
        apps = [
            create_app(make_context(db=db, clock=clock, rate_storage=store))
            for db, store in zip(dbs, stores, strict=True)
        ]
        with (
            TestClient(apps[0], client=ATTACKER) as one,
            TestClient(apps[1], client=ATTACKER) as two,
            TestClient(apps[1], client=BYSTANDER) as bystander,
        ):
            for i in range(PER_MINUTE.failures):
                assert (one if i % 2 else two).get("/v1/me", headers=BAD).status_code == 401
            assert_throttled(one.get("/v1/me", headers=BAD))
            assert_throttled(two.get("/v1/me", headers=BAD))
            assert bystander.get("/v1/me", headers=BAD).status_code == 401
    finally:
        stores[0].reset()
        for db in dbs:
            db.dispose()


def test_settings_choose_redis(redis_url: str) -> None:
    assert build_rate_storage(Settings(redis_url=None)) is None  # the database keeps counts
    assert isinstance(build_rate_storage(Settings(redis_url=redis_url)), RedisStorage)


def test_an_unreachable_store_does_not_take_sign_in_down(
    sqlite_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = sqlite_world.ctx
    down = RedisStorage("redis://127.0.0.1:1/0", wrap_exceptions=True, socket_connect_timeout=0.2)
    app = app_for(make_context(db=ctx.db, clock=ctx.clock, rate_storage=down))
    with TestClient(app, client=ATTACKER) as client:
        assert client.get("/v1/me", headers=BAD).status_code == 401
        assert client.get("/v1/me", headers=sqlite_world.sales_full.headers).status_code == 200
    assert "rate-limit storage unavailable" in caplog.text
