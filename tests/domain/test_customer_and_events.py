"""Pure domain: the state machine helper, the customer-list entry, organizations' people,
one way to record events, and the catalog's service-type questions (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

import pytest

from trialhub.catalog import get_catalog
from trialhub.domain.consent import consent_recipients
from trialhub.domain.errors import Conflict, InvalidTransition
from trialhub.domain.events import EventSource
from trialhub.domain.organization import (
    CUSTOMER_STATES,
    AccessLevel,
    Customer,
    CustomerState,
    Organization,
    OrgKind,
)
from trialhub.domain.statemachine import StateMachine

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CATALOG = get_catalog()


# ---- the generic state machine -------------------------------------------------------------


class Light(StrEnum):
    RED = "red"
    GREEN = "green"


class Lamp(EventSource):
    SUBJECT_TYPE: ClassVar[str] = "lamp"

    def __init__(self) -> None:
        self.id = "lmp_1"
        self.status = Light.RED.value
        self.green_at: datetime | None = None


LIGHTS = StateMachine(
    Light,
    {Light.RED: frozenset({Light.GREEN}), Light.GREEN: frozenset({Light.RED})},
    stamps={Light.GREEN: "green_at"},
)


def test_a_move_checks_sets_stamps_and_records() -> None:
    lamp = Lamp()
    assert LIGHTS.move(lamp, Light.GREEN, NOW, why="go") is Light.RED
    assert (lamp.status, lamp.green_at) == ("green", NOW)
    (event,) = lamp.drain_events()
    assert (event.action, event.subject_type, event.subject_id) == ("lamp.green", "lamp", "lmp_1")
    assert (event.before, event.after) == ({"status": "red"}, {"status": "green", "why": "go"})
    with pytest.raises(InvalidTransition):
        LIGHTS.move(lamp, Light.GREEN, NOW)
    assert lamp.drain_events() == []


def test_every_state_needs_a_row() -> None:
    with pytest.raises(ValueError, match="no row"):
        StateMachine(Light, {Light.RED: frozenset()})


# ---- the customer-list entry (rules C3, C4, K3, K5, K6, A1) --------------------------------

ALLOWED = CUSTOMER_STATES.allowed_pairs()
FORBIDDEN = CUSTOMER_STATES.forbidden_pairs()


def org() -> Organization:
    return Organization.new(name="Acme", kind=OrgKind.CUSTOMER, country="DE", region="EU", at=NOW)


def customer(state: CustomerState) -> Customer:
    entry = Customer.new(partner_id="ptn_1", org=org(), state=state, at=NOW, by="adm_1")
    entry.drain_events()
    return entry


def test_the_customer_table() -> None:
    assert set(ALLOWED) == {
        (CustomerState.PENDING, CustomerState.ACTIVE),
        (CustomerState.PENDING, CustomerState.REMOVED),
        (CustomerState.REMOVED, CustomerState.PENDING),
        (CustomerState.REMOVED, CustomerState.ACTIVE),
    }


@pytest.mark.parametrize(("start", "to"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_customer_moves(start: CustomerState, to: CustomerState) -> None:
    entry = customer(start)
    CUSTOMER_STATES.move(entry, to, NOW)
    assert entry.state == to.value
    assert (entry.removed_at == NOW) is (to is CustomerState.REMOVED)


@pytest.mark.parametrize(("start", "to"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_forbidden_customer_moves(start: CustomerState, to: CustomerState) -> None:
    entry = customer(start)
    with pytest.raises(InvalidTransition):
        CUSTOMER_STATES.move(entry, to, NOW)
    assert (entry.state, entry.drain_events()) == (start.value, [])


def test_a_new_entry_records_that_it_was_added() -> None:
    entry = Customer.new(
        partner_id="ptn_1",
        org=org(),
        state=CustomerState.ACTIVE,
        access=AccessLevel.FULL,
        at=NOW,
        reason="manages_subscription",
    )
    (event,) = entry.drain_events()
    assert (event.action, event.partner_id, event.org_id) == (
        "customer.added",
        "ptn_1",
        entry.org_id,
    )
    assert event.after == {"state": "active", "access": "full", "reason": "manages_subscription"}


def test_consent_activates_with_the_chosen_access() -> None:  # rule K3
    entry = customer(CustomerState.PENDING)
    entry.consent(AccessLevel.PROVISIONING, NOW, by="it@acme.example", trial_id="trl_1")
    assert (entry.state, entry.access) == ("active", "provisioning")
    (event,) = entry.drain_events()
    assert (event.action, event.trial_id) == ("customer.consented", "trl_1")
    # an entry that joined meanwhile as the managing partner's takes the chosen access too
    entry.consent(AccessLevel.FULL, NOW, by="it@acme.example", trial_id="trl_2")
    assert (entry.state, entry.access) == ("active", "full")


@pytest.mark.parametrize("others", [False, True])
def test_withdrawing_a_request_removes_only_a_pending_entry_kept_by_nothing(others: bool) -> None:
    for state in CustomerState:
        entry = customer(state)
        entry.withdraw(NOW, reason="declined", other_open_trials=others)
        removed = state is CustomerState.PENDING and not others
        assert entry.state == (CustomerState.REMOVED if removed else state).value


def test_asking_again_and_joining_as_manager() -> None:  # rules C3, A1
    entry = customer(CustomerState.REMOVED)
    entry.request_again("adm_2", NOW)
    assert (entry.state, entry.access, entry.created_by_admin_id) == ("pending", None, "adm_2")
    entry.join_as_manager(NOW)
    assert (entry.state, entry.access) == ("active", "full")
    entry.access = AccessLevel.PROVISIONING.value
    entry.join_as_manager(NOW)  # an active entry keeps the access its administrator chose
    assert entry.access == "provisioning"


def test_request_guards() -> None:  # rules C4, K4, K5
    with pytest.raises(Conflict) as info:
        customer(CustomerState.ACTIVE).require_no_request("Acme")
    assert (info.value.rule, info.value.code) == ("C4", "already_a_customer")
    with pytest.raises(Conflict) as info:
        customer(CustomerState.PENDING).require_no_request("Acme")
    assert (info.value.rule, info.value.code) == ("K5", "consent_already_pending")
    customer(CustomerState.REMOVED).require_no_request("Acme")
    customer(CustomerState.ACTIVE).require_consented()
    with pytest.raises(Conflict):
        customer(CustomerState.PENDING).require_consented()


def test_assignments_are_recorded_once() -> None:  # rule P2
    entry = customer(CustomerState.ACTIVE)
    entry.assign("adm_2", NOW)
    entry.assign("adm_2", NOW)
    assert [a.admin_id for a in entry.assignments] == ["adm_2"]
    assert entry.reachable_by("adm_2")
    assert [a.admin_id for a in entry.unassign("adm_2", NOW)] == ["adm_2"]
    assert [e.action for e in entry.drain_events()] == ["customer.assigned", "customer.unassigned"]


# ---- organizations: people (rules K1, T7) ---------------------------------------------------


def test_release_people_moves_users_and_turns_admins_into_users() -> None:  # rule T7
    acme, free = org(), Organization.free(NOW)
    acme.add_admin("boss@acme.example", "Boss", full=True, at=NOW)
    acme.add_admin("both@acme.example", "Both", full=False, at=NOW)
    acme.add_user("both@acme.example", "Both", NOW)
    acme.add_user("user@acme.example", "User", NOW)
    released = acme.release_people(free, NOW, partner_id="ptn_1", trial_id="trl_1")
    assert released.moved == 3
    assert {u.org_id for u in acme.users} == {free.id}
    assert [u.email for u in released.new_users] == ["boss@acme.example"]
    assert len(released.dropped_admins) == 2
    (event,) = acme.drain_events()
    assert (event.action, event.partner_id, event.org_id, event.trial_id) == (
        "organization.released",
        "ptn_1",
        acme.id,
        "trl_1",
    )
    assert free.kind == OrgKind.FREE


def test_consent_goes_to_the_full_admin_alone_or_to_everyone() -> None:  # rule K1
    acme = org()
    acme.add_admin("boss@acme.example", "Boss", full=True, at=NOW)
    acme.add_admin("it@acme.example", "IT", full=False, at=NOW)
    assert consent_recipients(acme, "boss@acme.example") == ["boss@acme.example"]
    assert consent_recipients(acme, "it@acme.example") == ["it@acme.example", "boss@acme.example"]


# ---- the catalog answers the service-type questions ----------------------------------------


@pytest.mark.parametrize(
    ("codes", "numbers", "devices", "users", "site"),
    [
        (["calling"], True, False, True, False),
        (["meetings"], False, False, True, True),
        (["room_devices", "boards"], False, True, False, False),
        (["unknown"], False, False, False, False),
        ([], False, False, False, False),
    ],
)
def test_catalog_questions(
    codes: list[str], numbers: bool, devices: bool, users: bool, site: bool
) -> None:
    assert CATALOG.keeps_numbers(codes) is numbers
    assert CATALOG.has_device_service(codes) is devices
    assert CATALOG.has_user_service(codes) is users
    assert CATALOG.has_site_service(codes) is site
