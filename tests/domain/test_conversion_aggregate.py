"""Pure domain: the conversion order, its state table and the rules it decides (V1-V5),
without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trialhub.catalog import get_catalog
from trialhub.domain import errors
from trialhub.domain.conversion import (
    Contacts,
    ConversionOrder,
    ConversionPath,
)
from trialhub.domain.organization import Organization, OrgKind
from trialhub.domain.policy import DEFAULT_POLICY
from trialhub.domain.states import RUNNING_STATUSES, TrialStatus
from trialhub.domain.trial import Trial
from trialhub.domain.trial_parts import ServiceChoice, SiteChoice, TrialKind

CATALOG, POLICY = get_catalog(), DEFAULT_POLICY
NOW, DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC), timedelta(days=1)
# a new customer's trial of 90 days with 10 user licenses, set up at once
NEW_CUSTOMER: dict[str, Any] = {
    "partner_id": "ptn_1",
    "org_id": "org_1",
    "customer_id": "cus_1",
    "kind": TrialKind.NEW_CUSTOMER,
    "duration_days": 90,
    "user_licenses": 10,
    "setup": "now",
    "by": "adm_1",
}
CONTACTS = Contacts({"sam@partner.example"}, {"ann@acme.example"})


@dataclass(frozen=True)
class Line:
    """A service the order buys, as the caller gives it."""

    code: str
    quantity: int | None = None


def trial(*codes: str, status: TrialStatus = TrialStatus.ACTIVE) -> Trial:
    """A trial provisioned NOW with Meetings (and its site) and Calling by default."""
    chosen = codes or ("meetings", "calling")
    services = [ServiceChoice(c, "enterprise" if c == "meetings" else None, 3) for c in chosen]
    site = SiteChoice("acme", "Europe/Paris") if "meetings" in chosen else None
    made = Trial.new(services=services, site=site, at=NOW, policy=POLICY, **NEW_CUSTOMER)
    made.status = status.value
    made.drain_events()
    return made


def org() -> Organization:
    made = Organization.new(name="Acme", kind=OrgKind.CUSTOMER, country="DE", region="EU", at=NOW)
    made.id = "org_1"
    return made


def file(owner: Trial, *lines: Line, **kw: object) -> ConversionOrder:
    args: dict[str, object] = {
        "provisioning_email": " Ann@Acme.Example ",
        "contacts": CONTACTS,
        "confirm_new_organization": False,
        "confirm_lost_services": False,
        "path": ConversionPath.DIRECT,
        "one_waiting": False,
        "by_distributor": False,
        "distributor_id": None,
        "by": "adm_1",
        "at": NOW,
        **kw,
    }
    chosen = lines or (Line("meetings"), Line("calling"))
    return ConversionOrder.file(owner, CATALOG, lines=chosen, **args)  # type: ignore[arg-type]


def problems(error: errors.TrialhubError) -> set[tuple[str | None, str | None]]:
    """Each (field, rule) the error names, one per problem."""
    return {(e.field, e.rule) for e in error.errors} or {(error.field, error.rule)}


# ---- filing an order (rules V1-V5, S1) -----------------------------------------------------


def test_an_order_is_filed_requested_with_its_lines_and_contact() -> None:
    made = file(trial(), Line("meetings", 5), Line("calling"))
    assert (made.status, made.path, made.provisioning_email) == (
        "requested",
        "direct",
        "ann@acme.example",
    )
    # rule S1: a user service defaults to the trial's user licenses
    assert made.services == [
        {"service": "meetings", "quantity": 5},
        {"service": "calling", "quantity": 10},
    ]
    assert (made.lost_services, made.new_organization_confirmed) == ([], False)
    (event,) = made.drain_events()
    assert event.action == "order.created"


def test_a_device_service_defaults_to_the_trial_quantity() -> None:
    made = file(trial("room_devices"), Line("room_devices"))
    assert made.services == [{"service": "room_devices", "quantity": 3}]


@pytest.mark.parametrize("status", list(TrialStatus))
def test_v4_an_order_is_filed_while_the_trial_runs(status: TrialStatus) -> None:
    owner = trial(status=status)
    if status in RUNNING_STATUSES:
        assert file(owner).status == "requested"
    elif status is TrialStatus.LAPSED:
        with pytest.raises(errors.IrreversibleLapse) as lapsed:
            file(owner)
        assert lapsed.value.rule == "T7"
    else:
        with pytest.raises(errors.InvalidTransition) as info:
            file(owner)
        assert info.value.rule == "V4"


def test_v5_s1_every_line_problem_at_once() -> None:
    with pytest.raises(errors.ValidationFailed) as info:
        file(
            trial(),
            Line("meetings"),
            Line("meetings"),  # twice
            Line("boards"),  # not a service of this trial
            Line("calling", 1000),  # past the service's maximum
            provisioning_email="not an email",
        )
    assert problems(info.value) == {
        ("services[1].code", "V3"),
        ("services[2].code", "V5"),
        ("services[3].quantity", "S1"),
        ("provisioning_email", "V2"),
    }


def test_v2_the_provisioning_contact() -> None:
    assert not file(trial(), provisioning_email="sam@partner.example").new_organization_confirmed
    with pytest.raises(errors.ValidationFailed) as info:
        file(trial(), provisioning_email="typo@acme.example")
    assert (info.value.rule, info.value.field) == ("V2", "provisioning_email")
    made = file(trial(), provisioning_email="new@else.example", confirm_new_organization=True)
    assert made.new_organization_confirmed


def test_v3_services_left_out_are_lost_with_confirmation() -> None:
    with pytest.raises(errors.ValidationFailed) as info:
        file(trial(), Line("meetings"))
    assert (info.value.rule, info.value.field) == ("V3", "confirm_lost_services")
    assert "calling" in info.value.message
    made = file(trial(), Line("meetings"), confirm_lost_services=True)
    assert made.lost_services == ["calling"]


def test_v1_one_request_waits_at_a_time() -> None:
    for by_distributor, ending in ((False, "distributor."), (True, "process it instead.")):
        with pytest.raises(errors.Conflict) as info:
            file(trial(), one_waiting=True, by_distributor=by_distributor)
        assert info.value.rule == "V1"
        assert info.value.message.endswith(ending)


# ---- completing, processing and declining (rules V1, V3, V5) -------------------------------


def test_v5_completing_buys_the_services_and_converts_the_trial() -> None:
    owner, buyer = trial(), org()
    made = file(owner, Line("meetings"), confirm_lost_services=True)
    made.drain_events()
    made.complete(owner, buyer, POLICY, CATALOG, by="adm_1", at=NOW + DAY)
    assert (made.status, made.processed_at, made.processed_by_admin_id) == (
        "completed",
        NOW + DAY,
        "adm_1",
    )
    assert [(s.service, s.quantity, s.partner_id) for s in buyer.subscriptions] == [
        ("meetings", 10, "ptn_1")
    ]
    assert owner.status == "converted"
    assert owner.site is not None
    assert owner.site.released_at is None  # rule V3: Meetings is kept, so is its site
    assert owner.numbers_release_at == NOW + DAY + POLICY.number_retention  # Calling is lost
    assert [e.action for e in made.drain_events()] == ["order.completed"]
    with pytest.raises(errors.Conflict):
        made.complete(owner, buyer, POLICY, CATALOG, by="adm_1", at=NOW + DAY)


def test_v1_a_distributor_processes_a_request_checked_again() -> None:
    owner, buyer = trial(), org()
    made = file(owner, path=ConversionPath.DISTRIBUTOR_REQUEST, distributor_id="dst_1")
    made.complete(owner, buyer, POLICY, CATALOG, by="dst_adm", at=NOW + DAY, note="done")
    assert (made.status, made.note, made.path) == ("completed", "done", "distributor_request")


def test_v3_v4_a_request_whose_trial_changed_is_not_processed() -> None:
    owner, buyer = trial(), org()
    made = file(owner)
    owner.change_services(NOW, CATALOG, add=[], remove=["calling"], user_licenses=0, site=None)
    with pytest.raises(errors.Conflict) as changed:
        made.complete(owner, buyer, POLICY, CATALOG, by="dst_adm", at=NOW + DAY)
    assert changed.value.rule == "V3"
    lapsed = trial(status=TrialStatus.LAPSED)
    late = file(trial())
    with pytest.raises(errors.IrreversibleLapse):
        late.complete(lapsed, buyer, POLICY, CATALOG, by="dst_adm", at=NOW + DAY)
    assert (made.status, late.status, buyer.subscriptions) == ("requested", "requested", [])


def test_v1_a_declined_request_leaves_the_trial_running() -> None:
    owner = trial()
    made = file(owner, path=ConversionPath.DISTRIBUTOR_REQUEST)
    made.drain_events()
    made.decline(by="dst_adm", note="no budget", at=NOW + DAY)
    assert (made.status, made.processed_at, made.note) == ("declined", NOW + DAY, "no budget")
    assert owner.status == "active"
    (event,) = made.drain_events()
    assert event.after == {"status": "declined", "note": "no budget"}
    with pytest.raises(errors.Conflict) as again:
        made.decline(by="dst_adm", note=None, at=NOW + DAY)
    assert again.value.message == "This request was already declined."
    assert made.note == "no budget"
