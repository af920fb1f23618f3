"""The store is sealed (issue 9, architecture 13 and 15): the database session stays inside
`store/`, every repository read is scoped to the caller unless its name says otherwise, and
partner B reads none of partner A's rows through a scoped read (rule P3)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import trialhub
from tests.conftest import World, make_world, new_customer_body
from trialhub.domain.organization import Customer
from trialhub.services.kernel.context import Context
from trialhub.services.messaging import webhooks
from trialhub.services.messaging.webhooks import CreateWebhook
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial, TrialView
from trialhub.store import repositories
from trialhub.store.repositories import CustomerFilter, Repository, Scope
from trialhub.store.uow import UnitOfWork

SRC = Path(trialhub.__file__).parent
# a method whose name starts so changes rows; every other public method is a read
WRITES = (
    "add",
    "delete",
    "touch",
    "mark",
    "postpone",
    "give_up",
    "lease",
    "take_over",
    "complete",
    "release",
    "purge",
    "claim",
    "lock",
    "replace",
)
UNSCOPED_NAMES = ("_unscoped", "_for_worker", "_any_partner")
USES_SCOPE = ("self._scoped(", "self._scoped_by_trial(", "self.scope")


def test_no_session_outside_the_store() -> None:
    """Architecture 15: services get `flush()`, `savepoint()` and repositories, never the
    session; nothing outside store/ reaches the unit of work's private one."""
    reach = re.compile(r"\._session\b|\._live\(|\buow\.session\b")
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        if path.relative_to(SRC).parts[0] != "store"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if reach.search(line)
    ]
    assert offenders == []
    assert not hasattr(UnitOfWork, "session")


def _repository_classes() -> list[type[Repository]]:
    found = [getattr(repositories, name) for name in repositories.__all__]
    return [c for c in found if isinstance(c, type) and issubclass(c, Repository)]


def _uses_scope(cls: type, name: str, seen: set[str]) -> bool:
    """The method filters by the caller's scope, itself or through a helper it calls."""
    source = inspect.getsource(getattr(cls, name))
    if any(use in source for use in USES_SCOPE):
        return True
    seen.add(name)
    helpers = set(re.findall(r"self\.(\w+)\(", source)) - seen
    return any(hasattr(cls, h) and _uses_scope(cls, h, seen) for h in helpers)


def unscoped_reads(cls: type[Repository]) -> list[str]:
    """The public reads of `cls` that neither use the scope nor say in their name that
    they do not."""
    if not cls.partner_data:
        return []
    return [
        f"{cls.__name__}.{name}"
        for name, member in vars(cls).items()
        if inspect.isfunction(member)
        and not name.startswith("_")
        and not name.startswith(WRITES)
        and not name.endswith(UNSCOPED_NAMES)
        and not _uses_scope(cls, name, set())
    ]


def test_every_read_is_scoped_unless_its_name_says_otherwise() -> None:
    """Rule P3 by construction: a new read that forgets the caller's reach fails here."""
    classes = _repository_classes()
    assert len(classes) >= 14
    assert [read for cls in classes for read in unscoped_reads(cls)] == []


def test_the_check_catches_an_unscoped_read() -> None:
    class Leaky(Repository):
        def everyone(self) -> list[Customer]:
            return []

        def everyone_any_partner(self) -> list[Customer]:
            return []

    assert unscoped_reads(Leaky) == ["Leaky.everyone"]


# --- tenancy: partner B reads none of partner A's rows (SQLite; the scoped SQL is portable)


@pytest.fixture
def two_partners(sqlite_ctx: Context) -> tuple[World, World, TrialView, str]:
    a = make_world(sqlite_ctx, name="Partner A")
    trial = trials.start_trial(
        sqlite_ctx, a.sales_full.actor, StartTrial.model_validate(new_customer_body())
    )
    cmd = CreateWebhook(url="https://hooks.example.com/a", event_types=["trial.started"])
    endpoint = webhooks.create_endpoint(sqlite_ctx, a.sales_full.actor, cmd).id
    b = make_world(sqlite_ctx, name="Partner B")
    return a, b, trial, endpoint


def _reads(uow: UnitOfWork, a: World, trial: TrialView, endpoint: str) -> dict[str, object]:
    """What each scoped read answers about partner A's rows, as sets or single rows."""
    rows, _ = uow.customers.search(CustomerFilter(), now=a.ctx.now(), limit=100, cursor=None)
    return {
        "partners.get": uow.partners.get(a.partner_id),
        "admins.get": uow.admins.get(a.sales.actor.admin_id),
        "admins.list_for_partner": uow.admins.list_for_partner(a.partner_id),
        "customers.get": uow.customers.get(trial.customer_id),
        "customers.for_org": uow.customers.for_org(a.partner_id, trial.org_id),
        "customers.search": [r.id for r in rows if r.id == trial.customer_id],
        "customers.trials_of": uow.customers.trials_of(trial.customer_id),
        "customers.list_keys": uow.customers.list_keys([trial.customer_id])[
            trial.customer_id
        ].statuses,
        "customers.listed_statuses": uow.customers.listed_statuses([trial.customer_id])[
            trial.customer_id
        ],
        "trials.get": uow.trials.get(trial.id),
        "outbox.for_trial": uow.outbox.for_trial(trial.id),
        "outbox.all": [m for m in uow.outbox.all() if m.partner_id == a.partner_id],
        "due.for_trial": uow.deadlines.for_trial(trial.id),
        "audit.since": uow.audit.since(after=None, limit=1000, trial_id=trial.id),
        "webhooks.get": uow.webhooks.get(endpoint),
        "webhooks.of_partner": uow.webhooks.of_partner(a.partner_id),
        "shipments.for_trial": uow.shipments.for_trial(trial.id),
        "shipments.extension_requests": uow.shipments.extension_requests(trial_id=trial.id),
        "orders.listed": uow.orders.listed(trial_id=trial.id),
    }


# reads whose rows this setup does not create (no shipment, order, delivery or link yet):
# partner A sees none either, so they only prove B gets nothing
EMPTY_FOR_A = {"shipments.for_trial", "shipments.extension_requests", "orders.listed"}


def test_partner_b_reads_none_of_partner_as_rows(
    two_partners: tuple[World, World, TrialView, str],
) -> None:
    """Rule P3: each scoped read answers nothing of A's to B, and A its own rows."""
    a, b, trial, endpoint = two_partners
    with a.ctx.uow(a.sales_full.actor.scope) as uow:
        seen_by_a = _reads(uow, a, trial, endpoint)
    with a.ctx.uow(b.sales_full.actor.scope) as uow:
        seen_by_b = _reads(uow, a, trial, endpoint)
        assert uow.webhooks.deliveries(endpoint, 10) == []
        assert uow.consent.for_trial(trial.id) == []
        own = uow.admins.get_self()
        assert own is not None
        assert own.id == b.sales_full.actor.admin_id
    missing_for_a = [k for k, v in seen_by_a.items() if not v and k not in EMPTY_FOR_A]
    assert missing_for_a == []
    leaked_to_b = {k: v for k, v in seen_by_b.items() if v}
    assert leaked_to_b == {}


def test_the_operator_reads_every_partners_rows(
    two_partners: tuple[World, World, TrialView, str],
) -> None:
    a, _b, trial, endpoint = two_partners
    with a.ctx.uow(Scope.system("test")) as uow:
        seen = _reads(uow, a, trial, endpoint)
    assert [k for k, v in seen.items() if not v and k not in EMPTY_FOR_A] == []
