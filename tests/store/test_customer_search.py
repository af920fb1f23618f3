"""The customer list's text search (migration 0012) answers exactly what a plain
case-insensitive substring match of the name or an administrator's email answers, through
the search structure (FTS5 trigram on SQLite, pg_trgm on PostgreSQL) or the walk, and the
structure follows every write to organizations and their administrators (rules P3, L1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text, update

from tests.conftest import START, World, new_customer_body
from tests.support.factories import make_world
from tests.support.lifecycle import start_trials
from tests.support.list_keys import fill_status_rows
from tests.support.statements import statements
from trialhub.domain.organization import NO_END
from trialhub.services.customers import list_customers
from trialhub.store import tables
from trialhub.store.repositories import customer_list
from trialhub.store.tables import search

pytestmark = pytest.mark.both_backends  # the search structures are the subject

# names and emails over a small alphabet, with LIKE's own characters and capitals in it
NAMES = [
    "Abba Cab",
    "ABC 100%",
    "a_b c",
    "cab%_ab",
    "Back Bay",
    "b\\a\\c",
    "CaBaC",
    "Zz",
    "ab ab ab",
    "Bac",
]
EMAILS = ["it@abba.example", "Ops@CAB.example", "x_y@b-a.example", "100%@a.example", "q@zz.example"]


def _seed_customers(world: World) -> None:
    """Customers of the world's partner with the names above; some with administrators."""
    orgs, admins, customers = [], [], []
    for i, name in enumerate(NAMES):
        org = f"org_s{i:03d}"
        orgs.append(
            {"id": org, "name": name, "kind": "customer", "country": "FR", "region": "EU"}
            | {"created_at": START}
        )
        customers.append(
            {"id": f"cus_s{i:03d}", "partner_id": world.partner_id, "org_id": org}
            | {"state": "active", "access": "full", "created_at": START}
            | {"sort_end": NO_END, "sort_name": name}
        )
        for n, email in enumerate(EMAILS[i % 3 :: 3] if i % 2 else []):
            admins.append(
                {"id": f"oad_s{i:03d}{n}", "org_id": org, "email": f"{i}{email}", "name": "A"}
                | {"full": n == 0, "created_at": START + timedelta(minutes=n)}
            )
    with world.ctx.db.engine.begin() as conn:
        conn.execute(insert(tables.organizations), orgs)
        conn.execute(insert(tables.org_admins), admins)
        conn.execute(insert(tables.customers), customers)


def _listed(world: World, needle: str, limit: int = 3) -> list[str]:
    """Every customer the list shows for `needle`, page after page."""
    out: list[str] = []
    cursor = None
    while True:
        page = list_customers(
            world.ctx, world.sales_full.actor, text=needle, limit=limit, cursor=cursor
        )
        out.extend(item.id for item in page.items)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def _expected(world: World, needle: str) -> list[str]:
    """The same question asked of plain Python: ordered as the list orders."""
    c, o, a = tables.customers.c, tables.organizations.c, tables.org_admins.c
    with world.ctx.db.engine.connect() as conn:
        rows = conn.execute(
            select(c.id, c.sort_end, c.sort_name, o.name, o.id.label("org"))
            .join(tables.organizations, o.id == c.org_id)
            .where(c.partner_id == world.partner_id, c.state != "removed")
        ).all()
        emails: dict[str, list[str]] = {}
        for org, email in conn.execute(select(a.org_id, a.email)):
            emails.setdefault(org, []).append(email)
    wanted = needle.strip().lower()
    hits = [
        r
        for r in rows
        if wanted in r.name.lower() or any(wanted in e.lower() for e in emails.get(r.org, []))
    ]
    return [r.id for r in sorted(hits, key=lambda r: (r.sort_end, r.sort_name, r.id))]


@pytest.mark.parametrize(
    "needle",
    [
        *("ab", "AB", "aBa", "cab", "%", "100%", "_", "a_b", "\\", "b\\a", "bac", " cab "),
        *("zz", "ops@cab", "abba.ex", "@", "-a.", "x", "nothing like it", "ab ab ab ab"),
    ],
)
def test_text_search_matches_a_plain_substring_filter(world: World, needle: str) -> None:
    _seed_customers(world)
    assert _listed(world, needle) == _expected(world, needle)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(needle=st.text(alphabet="abcABC %_\\@.z0", min_size=1, max_size=6))
def test_any_needle_finds_what_python_finds(world: World, needle: str) -> None:
    with world.ctx.db.engine.connect() as conn:  # once for all examples
        seeded = conn.scalar(
            select(tables.organizations.c.id).where(tables.organizations.c.id == "org_s000")
        )
    if seeded is None:
        _seed_customers(world)
    assert _listed(world, needle, limit=4) == _expected(world, needle)


def test_dense_matches_walk_the_list_with_the_same_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More candidates than MAX_CANDIDATES: the page checks each customer it walks."""
    _seed_customers(world)
    monkeypatch.setattr(customer_list, "MAX_CANDIDATES", 2)
    for needle in ("cab", "ab ", "abba"):
        assert _listed(world, needle) == _expected(world, needle)


def test_the_search_follows_every_write(world: World) -> None:
    """Inserts, renames, new, changed and removed administrators, removed organizations:
    whatever writes them (here plain SQL, as a migration or an operator would)."""
    _seed_customers(world)
    o, a = tables.organizations.c, tables.org_admins.c
    engine = world.ctx.db.engine
    assert _listed(world, "quokka") == []
    with engine.begin() as conn:
        conn.execute(update(tables.organizations).where(o.id == "org_s007").values(name="Quokka"))
    assert _listed(world, "quokka") == ["cus_s007"]
    with engine.begin() as conn:
        conn.execute(update(tables.organizations).where(o.id == "org_s007").values(name="Zz"))
        row = {"id": "oad_new", "org_id": "org_s000", "email": "wombat@w.example"}
        conn.execute(
            insert(tables.org_admins), row | {"name": "W", "full": True, "created_at": START}
        )
    assert _listed(world, "quokka") == []
    assert _listed(world, "wombat") == ["cus_s000"]
    with engine.begin() as conn:
        conn.execute(
            update(tables.org_admins).where(a.id == "oad_new").values(email="emu@e.example")
        )
    assert _listed(world, "wombat") == []
    assert _listed(world, "emu@e") == ["cus_s000"]
    with engine.begin() as conn:
        conn.execute(tables.org_admins.delete().where(a.id == "oad_new"))
    assert _listed(world, "emu@e") == []
    if world.ctx.db.dialect == "sqlite":  # nothing left behind in the index
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM org_search WHERE org_search MATCH '\"emu@e\"'")
            ).scalar()
        assert found == 0


def test_a_new_customer_is_found_at_once(world: World, client: TestClient) -> None:
    """A customer made by the app (a trial start) is searchable in the same moment."""
    body = new_customer_body()
    body["customer"]["company_name"] = "Numbat Holdings"
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 201, r.text
    email = body["customer"]["admin_email"]
    assert _listed(world, "numbat hold") == [r.json()["customer_id"]]
    assert _listed(world, email[2:12].upper()) == [r.json()["customer_id"]]


@pytest.mark.parametrize("needle", [None, "ab", "cab"])
@pytest.mark.parametrize("status", [None, "active", "none"])
def test_a_page_costs_a_bounded_number_of_statements(
    world: World, needle: str | None, status: str | None
) -> None:
    """Issue 11: at most three statements (text candidates, the page, its trials), however
    many customers and trials there are (a status filter walks its own index, 0013)."""
    _seed_customers(world)
    with statements(world.ctx.db.engine) as sent:
        list_customers(world.ctx, world.sales_full.actor, text=needle, status=status, limit=5)
    assert len([s for s in sent if s.lstrip().upper().startswith(("SELECT", "WITH"))]) <= 3


def test_search_structures_exist_at_head(world: World) -> None:
    with world.ctx.db.engine.connect() as conn:
        if world.ctx.db.dialect == "sqlite":
            names = set(conn.execute(text("SELECT name FROM sqlite_master")).scalars())
            assert set(search.SQLITE_TABLES) | set(search.SQLITE_TRIGGERS) <= names
        else:
            names = set(conn.execute(text("SELECT indexname FROM pg_indexes")).scalars())
            assert set(search.POSTGRESQL_INDEXES) <= names


STATUSES = ["active", "lapsed", "pending_consent", "expired", "converted", "cancelled"]


def _seed_trials(world: World) -> None:
    """Trials in varied statuses for the customers above (none for some), sort keys kept."""
    trials, ends = [], {}
    for i in range(len(NAMES)):
        for n in range(i % 4):
            status = STATUSES[(i + n) % len(STATUSES)]
            end = START + timedelta(days=10 + i)
            trials.append(
                {
                    "id": f"trl_s{i:03d}{n}",
                    "partner_id": world.partner_id,
                    "org_id": f"org_s{i:03d}",
                }
                | {"customer_id": f"cus_s{i:03d}", "kind": "new_customer", "status": status}
                | {"duration_days": 90, "user_licenses": 5, "setup": "now", "version": 1}
                | {"created_at": START, "updated_at": START, "ends_at": end}
            )
            if status in customer_list.OPEN_VALUES:
                ends[f"cus_s{i:03d}"] = min(end, ends.get(f"cus_s{i:03d}", NO_END))
    c = tables.customers.c
    with world.ctx.db.engine.begin() as conn:
        conn.execute(insert(tables.trials), trials)
        for customer, end in ends.items():
            conn.execute(update(tables.customers).where(c.id == customer).values(sort_end=end))
        fill_status_rows(conn)  # around the app: what migration 0013 does


def _by_status(world: World, status: str) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        page = list_customers(
            world.ctx, world.sales_full.actor, status=status, limit=2, cursor=cursor
        )
        out.extend(item.id for item in page.items if item.id.startswith("cus_s"))
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def test_status_filter_matches_a_plain_filter(world: World) -> None:
    _seed_customers(world)
    _seed_trials(world)
    t, c = tables.trials.c, tables.customers.c
    with world.ctx.db.engine.connect() as conn:
        rows = conn.execute(select(t.customer_id, t.status).where(t.customer_id.like("cus_s%")))
        statuses: dict[str, set[str]] = {}
        for customer, status in rows:
            statuses.setdefault(customer, set()).add(status)
        order = list(
            conn.execute(
                select(c.id).where(c.id.like("cus_s%")).order_by(c.sort_end, c.sort_name, c.id)
            ).scalars()
        )
    for status in [*STATUSES, "awaiting_provisioning", "none"]:
        if status == "none":
            wanted = [
                i for i in order if not statuses.get(i, set()) & set(customer_list.OPEN_VALUES)
            ]
        else:
            wanted = [i for i in order if status in statuses.get(i, set())]
        assert _by_status(world, status) == wanted, status


@pytest.mark.parametrize("days", [0, 12, 15, 30])
def test_expiring_filter_matches_a_plain_filter(world: World, days: int) -> None:
    """Customers with an active trial ending between now and the horizon, in list order."""
    _seed_customers(world)
    _seed_trials(world)
    now = world.ctx.now()
    t, c = tables.trials.c, tables.customers.c
    with world.ctx.db.engine.connect() as conn:
        ending = {
            r.customer_id
            for r in conn.execute(select(t.customer_id, t.status, t.ends_at))
            if r.status == "active" and now <= r.ends_at <= now + timedelta(days=days)
        }
        order = conn.execute(
            select(c.id).where(c.id.like("cus_s%")).order_by(c.sort_end, c.sort_name, c.id)
        ).scalars()
        wanted = [i for i in order if i in ending]
    page = list_customers(world.ctx, world.sales_full.actor, expiring_within_days=days, limit=100)
    assert [item.id for item in page.items] == wanted
    assert wanted or days < 16  # the first active trial ends 16 days on


def test_a_status_filter_never_shows_another_partners_customers(world: World) -> None:
    """Rule P3, attacked through the filter: partner A's customers have trials in every
    status; partner B, filtering on each (and on expiring soon), walks the status rows and
    sees its own customer and none of A's."""
    _seed_customers(world)
    _seed_trials(world)
    other = make_world(world.ctx, name="Partner B")
    (own,) = start_trials(world.ctx, other.sales_full.actor, 1)
    for status in [*STATUSES, "awaiting_provisioning", "none"]:
        page = list_customers(world.ctx, other.sales_full.actor, status=status, limit=100)
        seen = [item.id for item in page.items]
        assert not [i for i in seen if i.startswith("cus_s")], status
        assert len(seen) == (1 if status == "active" else 0), (status, seen)
    page = list_customers(world.ctx, other.sales_full.actor, status="active", limit=100)
    assert [item.trial_ids for item in page.items] == [[own]]
    page = list_customers(world.ctx, other.sales_full.actor, expiring_within_days=3650, limit=100)
    assert [item.trial_ids for item in page.items] == [[own]]  # its own trial ends in 30 days


def test_a_status_row_claiming_another_partner_shows_nothing_of_its_customer(
    world: World,
) -> None:
    """Rule P3 holds in the data layer even against a wrong status row: one of partner A's
    customers' rows saying it is partner B's (a bad hand edit) shows B nothing of it, since
    the page is scoped on the customer too, not only on the row it walks."""
    _seed_customers(world)
    _seed_trials(world)
    other = make_world(world.ctx, name="Partner B")
    s = tables.customer_statuses.c
    with world.ctx.db.engine.begin() as conn:
        moved = conn.execute(
            update(tables.customer_statuses)
            .where(s.customer_id.like("cus_s%"))
            .values(partner_id=other.partner_id)
        ).rowcount
    assert moved > 0
    for status in [*STATUSES, "awaiting_provisioning"]:
        page = list_customers(world.ctx, other.sales_full.actor, status=status, limit=100)
        assert page.items == [], status
    page = list_customers(world.ctx, other.sales_full.actor, expiring_within_days=3650, limit=100)
    assert page.items == []
