"""Pure domain: device shipments and device extension requests, their state tables and the
rules they decide (D1-D9), without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from trialhub.catalog import get_catalog
from trialhub.domain import errors
from trialhub.domain.devices import (
    DeviceExtensionRequest,
    DeviceLine,
    DeviceOrder,
    DeviceShipment,
    ExtensionDecision,
)
from trialhub.domain.policy import DEFAULT_POLICY
from trialhub.domain.states import RUNNING_STATUSES, TrialStatus
from trialhub.domain.trial import Trial
from trialhub.domain.trial_parts import ServiceChoice, TrialKind

CATALOG, POLICY = get_catalog(), DEFAULT_POLICY
NOW, DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC), timedelta(days=1)
CAP = NOW + POLICY.device_trial_max_days * DAY  # rule D5, for a trial started NOW
ADDRESS = {
    "name": "Ann",
    "phone": "+1 555 0100",
    "email": " Ann@Acme.Example ",
    "street": "1 Main St",
    "city": "Austin",
    "postal_code": "78701",
    "country": "us",
}


def trial(*codes: str, status: TrialStatus = TrialStatus.ACTIVE) -> Trial:
    """A trial provisioned NOW for 90 days, set to `status` as the store would load it."""
    made = Trial.new(
        partner_id="ptn_1",
        org_id="org_1",
        customer_id="cus_1",
        kind=TrialKind.NEW_CUSTOMER,
        services=[ServiceChoice(c, None, 2) for c in codes or ("room_devices",)],
        duration_days=90,
        user_licenses=10,
        setup="now",
        site=None,
        by="adm_1",
        at=NOW,
        policy=POLICY,
    )
    made.status = status.value
    made.drain_events()
    return made


def order(*lines: tuple[str, int], **kw: object) -> DeviceOrder:
    base = DeviceOrder(
        lines=tuple(DeviceLine(m, q) for m, q in lines or (("room-bar", 2),)),
        recipient="customer",
        address=dict(ADDRESS),
        deal_id="DEAL-1",
        poe_supported=True,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def new_shipment(
    of: Trial | None = None,
    made: DeviceOrder | None = None,
    *,
    shipments: list[DeviceShipment] | None = None,
    partner_device_trials: int = 0,
) -> DeviceShipment:
    return DeviceShipment.new(
        of or trial(),
        made or order(),
        CATALOG,
        POLICY,
        shipments=shipments or [],
        partner_device_trials=partner_device_trials,
        demo_order="D12345678",
        by="adm_1",
        at=NOW,
    )


class Serial:
    """A device as the trials team gives it (the service's command line)."""

    def __init__(self, model: str, serial_number: str) -> None:
        self.model = model
        self.serial_number = serial_number


def dispatch(shipment: DeviceShipment, owner: Trial, **kw: object) -> None:
    """The trials team ships two room bars, by default with the trial's end as due date."""
    args: dict[str, object] = {
        "devices": [Serial("room-bar", "foc123 "), Serial("room-bar", "FOC456")],
        "carrier": "UPS",
        "tracking": "1Z999",
        "device_due_at": None,
        "serials_out": [],
        "at": NOW,
        **kw,
    }
    shipment.dispatch(owner, CATALOG, POLICY, **args)  # type: ignore[arg-type]


def shipped(
    of: Trial | None = None, made: DeviceOrder | None = None, **kw: object
) -> DeviceShipment:
    """A room-bar shipment of two, dispatched NOW."""
    owner = of or trial()
    shipment = new_shipment(owner, made)
    dispatch(shipment, owner, **kw)
    shipment.drain_events()
    return shipment


def rules_of(error: errors.TrialhubError) -> set[str | None]:
    return {e.rule for e in error.errors} or {error.rule}


def fields_of(error: errors.TrialhubError) -> set[str | None]:
    return {e.field for e in error.errors} or {error.field}


# ---- ordering (rules D1-D3, D9) ------------------------------------------------------------


def test_an_order_is_one_shipment_of_one_type_with_its_demo_order_number() -> None:
    shipment = new_shipment()
    assert (shipment.status, shipment.ordered_at, shipment.device_type) == (
        "ordered",
        NOW,
        "room",
    )
    assert (shipment.demo_order, shipment.ordered_by_admin_id) == ("D12345678", "adm_1")
    assert (shipment.country, shipment.address["email"]) == ("US", "ann@acme.example")
    assert shipment.lines == [{"model": "room-bar", "quantity": 2}]
    assert not shipment.contact_trials_team
    (event,) = shipment.drain_events()
    assert event.action == "shipment.ordered"
    assert event.after is not None
    assert event.after["demo_order"] == "D12345678"


def test_d3_phones_without_poe_need_the_trials_team() -> None:
    phones = trial("calling")
    shipment = new_shipment(phones, order(("desk-phone-9841", 2), poe_supported=False))
    assert (shipment.device_type, shipment.contact_trials_team) == ("phone", True)
    with pytest.raises(errors.ValidationFailed) as info:
        new_shipment(phones, order(("desk-phone-9841", 2), poe_supported=None))
    assert fields_of(info.value) == {"poe_supported"}


@pytest.mark.parametrize("status", list(TrialStatus))
def test_d1_devices_ship_for_a_running_trial_only(status: TrialStatus) -> None:
    if status in (TrialStatus.AWAITING_PROVISIONING, TrialStatus.ACTIVE):
        assert new_shipment(trial(status=status)).status == "ordered"
        return
    with pytest.raises(errors.InvalidTransition) as info:
        new_shipment(trial(status=status))
    assert info.value.rule == "D1"


def test_d1_the_device_step_needs_calling_or_a_device_service() -> None:
    with pytest.raises(errors.ValidationFailed) as info:
        new_shipment(trial("messaging"))
    assert (info.value.rule, info.value.field) == ("D1", "devices")
    assert new_shipment(trial("calling")).status == "ordered"


def test_d1_every_problem_at_once_the_address_included() -> None:
    address = {**ADDRESS, "country": "zz", "email": "not an email"}
    with pytest.raises(errors.ValidationFailed) as info:
        new_shipment(made=order(("toaster", 1), address=address))
    assert {"address.country", "address.email", "devices[0].model"} <= fields_of(info.value)
    with pytest.raises(errors.ValidationFailed) as us:
        new_shipment(made=order(deal_id=None))
    assert (fields_of(us.value), rules_of(us.value)) == ({"deal_id"}, {"D1"})


def test_d1_d2_refusals_that_are_conflicts() -> None:
    owner = trial("calling", "room_devices")
    rooms = new_shipment(owner)
    with pytest.raises(errors.Conflict) as again:
        new_shipment(owner, shipments=[rooms])
    assert again.value.rule == "D2"
    limit = POLICY.max_active_device_trials_per_partner
    assert new_shipment(partner_device_trials=limit - 1).status == "ordered"
    with pytest.raises(errors.Conflict) as busy:
        new_shipment(partner_device_trials=limit)
    assert busy.value.rule == "D1"
    assert str(limit) in busy.value.message
    # a second type for a trial with devices out is no new device trial of the partner
    phones = order(("desk-phone-9841", 1))
    assert new_shipment(owner, phones, shipments=[rooms], partner_device_trials=limit).status
    rooms.status = "returned"
    with pytest.raises(errors.Conflict):
        new_shipment(owner, phones, shipments=[rooms], partner_device_trials=limit)


# ---- dispatching (rules D4, D5, D7, D8) ----------------------------------------------------


def test_d4_dispatch_records_carrier_tracking_and_serial_numbers() -> None:
    owner = trial()
    shipment = new_shipment(owner)
    shipment.drain_events()
    dispatch(shipment, owner, at=NOW + DAY)
    assert (shipment.status, shipment.shipped_at) == ("shipped", NOW + DAY)
    assert [d.serial_number for d in shipment.devices] == ["FOC123", "FOC456"]
    assert {d.device_type for d in shipment.devices} == {"room"}
    assert all(d.id and d.shipment_id == shipment.id for d in shipment.devices)
    # rule D7: the device due date defaults to the trial's end; the return date follows it
    assert shipment.eula_due_at == owner.ends_at
    assert shipment.return_due_at == owner.ends_at + POLICY.device_return_days * DAY
    assert shipment.return_carrier == "UPS"  # rule D8: US
    (event,) = shipment.drain_events()
    assert (event.action, event.before) == ("shipment.shipped", {"status": "ordered"})
    assert event.after is not None
    assert event.after["serial_numbers"] == ["FOC123", "FOC456"]


def test_d4_one_serial_number_for_each_ordered_device_none_still_out() -> None:
    cases = [
        ([Serial("room-bar", "A1"), Serial("desk-pro", "B2")], [], "devices[1].model"),
        ([Serial("room-bar", "A1"), Serial("room-bar", " a1")], [], "devices[1].serial_number"),
        ([Serial("room-bar", "A1")], [], "devices"),  # two were ordered
        ([Serial("room-bar", "A1"), Serial("room-bar", "B2")], ["B2"], "devices"),
    ]
    for devices, out, where in cases:
        shipment = new_shipment()
        with pytest.raises(errors.ValidationFailed) as info:
            dispatch(shipment, trial(), devices=devices, serials_out=out)
        assert where in fields_of(info.value)
        assert rules_of(info.value) == {"D4"}
        assert (shipment.status, shipment.devices) == ("ordered", [])


def test_d4_a_shipment_ships_once_before_anything_else_is_checked() -> None:
    shipment = shipped()
    with pytest.raises(errors.Conflict) as info:
        dispatch(shipment, trial(status=TrialStatus.DELETED), devices=[])
    assert info.value.rule == "D4"


@pytest.mark.parametrize("status", sorted(set(TrialStatus) - {TrialStatus.ACTIVE}))
def test_d1_devices_of_a_trial_that_stopped_are_not_shipped(status: TrialStatus) -> None:
    owner = trial()
    shipment = new_shipment(owner)
    owner.status = status.value
    if status is TrialStatus.AWAITING_PROVISIONING:
        dispatch(shipment, owner)
        assert shipment.status == "shipped"
        return
    with pytest.raises(errors.InvalidTransition) as info:
        dispatch(shipment, owner)
    assert info.value.rule == "D1"
    assert (shipment.status, shipment.devices) == ("ordered", [])


def test_d5_the_default_due_date_is_the_trial_end_capped_at_the_device_maximum() -> None:
    long = trial()
    assert long.ends_at is not None
    long.ends_at = CAP + 10 * DAY  # extended past the device maximum
    assert shipped(long).eula_due_at == CAP
    waiting = trial(status=TrialStatus.AWAITING_PROVISIONING)
    waiting.starts_at = waiting.ends_at = None  # not provisioned: its duration from now
    assert shipped(waiting).eula_due_at == NOW + waiting.duration_days * DAY


def test_d5_d7_a_given_due_date_is_in_the_future_and_within_the_maximum() -> None:
    assert shipped(device_due_at=CAP).eula_due_at == CAP  # the edge itself is allowed
    for wanted, rule in (
        (CAP + timedelta(seconds=1), "D5"),
        (NOW, "D7"),
        (NOW - DAY, "D7"),
        (datetime(2026, 5, 1), "E3"),  # no time zone: rule E3
    ):
        with pytest.raises(errors.ValidationFailed) as info:
            shipped(device_due_at=wanted)
        assert (fields_of(info.value), rules_of(info.value)) == ({"device_due_at"}, {rule})
        if rule == "D5":
            assert f"{POLICY.device_trial_max_days} days" in info.value.errors[0].message


def test_d8_the_return_carrier_follows_the_shipping_country() -> None:
    for country, carrier in (("US", "UPS"), ("CA", "DHL"), ("DE", "DHL"), ("JP", "trials team")):
        shipment = shipped(made=order(address={**ADDRESS, "country": country}))
        assert shipment.return_carrier == carrier


# ---- returns, reminders, overdue, labels (rules D7, D8) ------------------------------------


def test_d8_a_return_is_taken_when_the_serial_numbers_match() -> None:
    shipment = shipped()
    shipment.take_return(["foc456", " FOC123 "], NOW + DAY)
    assert (shipment.status, shipment.returned_at) == ("returned", NOW + DAY)
    (event,) = shipment.drain_events()
    assert (event.action, event.before) == ("shipment.returned", {"status": "shipped"})
    assert event.after is not None
    assert event.after["late"] is False
    with pytest.raises(errors.Conflict) as again:
        shipment.take_return(["FOC123", "FOC456"], NOW + DAY)
    assert (again.value.rule, again.value.message) == ("D8", "These devices were already returned.")


def test_d8_a_mismatch_lists_every_number_and_changes_nothing() -> None:
    shipment = shipped()
    with pytest.raises(errors.ValidationFailed) as info:
        shipment.take_return(["FOC123", "FOC999"], NOW)
    messages = [e.message for e in info.value.errors]
    assert messages == [
        "FOC456 was shipped but is not returned.",
        "FOC999 was not in this shipment.",
    ]
    assert (shipment.status, shipment.returned_at, shipment.drain_events()) == ("shipped", None, [])
    with pytest.raises(errors.Conflict) as early:
        new_shipment().take_return(["FOC123"], NOW)
    assert early.value.message == "This shipment has not been shipped yet."


def test_d7_overdue_is_flagged_once_at_the_return_date() -> None:
    shipment = shipped()
    due = shipment.return_due_at
    assert due is not None
    assert not shipment.flag_overdue(due - DAY)
    assert shipment.flag_overdue(due)
    assert shipment.overdue_at == due
    assert not shipment.flag_overdue(due)  # once
    assert [e.action for e in shipment.drain_events()] == ["shipment.overdue"]
    shipment.take_return(["FOC123", "FOC456"], due + DAY)
    (event,) = shipment.drain_events()
    assert event.after is not None
    assert event.after["late"] is True
    assert not shipment.flag_overdue(due)  # back: never overdue again


def test_d7_reminders_and_a_moved_due_date_lift_the_overdue_flag() -> None:
    shipment = shipped()
    due = shipment.return_due_at
    assert due is not None
    assert shipment.reminder_instants(POLICY) == sorted(
        due - d * DAY for d in POLICY.device_reminder_days_before
    )
    shipment.remind_return(due - 3 * DAY)
    shipment.flag_overdue(due)
    shipment.move_due_date(due + DAY, POLICY, due + DAY)
    assert shipment.overdue_at is None
    assert shipment.return_due_at == due + (1 + POLICY.device_return_days) * DAY
    assert [e.action for e in shipment.drain_events()] == [
        "shipment.return_reminder",
        "shipment.overdue",
        "shipment.due_date_moved",
    ]


def test_d8_replacement_labels_in_the_united_states_only() -> None:
    shipment = shipped()
    shipment.request_label(NOW)
    shipment.request_label(NOW)
    assert shipment.labels_requested == 2
    with pytest.raises(errors.Conflict):
        new_shipment().request_label(NOW)  # not out yet
    abroad = shipped(made=order(address={**ADDRESS, "country": "DE"}))
    with pytest.raises(errors.ValidationFailed) as info:
        abroad.request_label(NOW)
    assert (info.value.rule, abroad.labels_requested) == ("D8", 0)


def request(
    decision: ExtensionDecision = ExtensionDecision.PENDING, *, end: datetime = CAP
) -> DeviceExtensionRequest:
    made = DeviceExtensionRequest("dxr_1", "trl_1", end, NOW, partner_id="ptn_1", org_id="org_1")
    made.decision = decision.value
    return made


# ---- filing a request (rules D5, D6) -------------------------------------------------------


def file(
    owner: Trial,
    end: datetime,
    *,
    shipments: list[DeviceShipment] | None = None,
    one_waiting: bool = False,
) -> DeviceExtensionRequest:
    return DeviceExtensionRequest.file(
        owner,
        CATALOG,
        POLICY,
        shipments=shipments or [],
        requested_end=end,
        reason="pilot",
        one_waiting=one_waiting,
        by="adm_1",
        at=NOW,
    )


def test_d6_a_request_is_filed_for_the_trials_team() -> None:
    made = file(trial(), CAP)  # the edge itself may be asked for
    assert (made.decision, made.requested_end, made.reason) == ("pending", CAP, "pilot")
    assert (made.trial_id, made.partner_id, made.requested_by_admin_id) != ("", "", None)
    (event,) = made.drain_events()
    assert event.action == "device_extension.requested"


@pytest.mark.parametrize("status", list(TrialStatus))
def test_d6_only_a_running_trial_asks(status: TrialStatus) -> None:
    owner = trial(status=status)
    if status in RUNNING_STATUSES:
        assert file(owner, CAP).decision == "pending"
    elif status is TrialStatus.LAPSED:
        with pytest.raises(errors.IrreversibleLapse):
            file(owner, CAP)
    else:
        with pytest.raises(errors.InvalidTransition) as info:
            file(owner, CAP)
        assert info.value.rule == "D6"


def test_d6_a_trial_without_devices_extends_the_ordinary_way() -> None:
    with pytest.raises(errors.ValidationFailed) as info:
        file(trial("messaging"), CAP)
    assert info.value.rule == "D6"
    assert f"{POLICY.extension_days} days" in info.value.message
    # Calling with devices still out asks past the latest device due date
    owner = trial("calling")
    out = shipped(owner)
    assert out.eula_due_at is not None
    with pytest.raises(errors.ValidationFailed) as early:
        file(owner, out.eula_due_at, shipments=[out])
    assert early.value.errors[0].rule == "D6"
    assert file(owner, out.eula_due_at + DAY, shipments=[out]).decision == "pending"


def test_d5_d6_the_requested_end_is_later_within_the_maximum_and_alone() -> None:
    owner = trial()
    assert owner.ends_at is not None
    for end, rule in (
        (owner.ends_at, "D6"),  # not later than now
        (CAP + timedelta(seconds=1), "D5"),
        (datetime(2026, 6, 1), "E3"),  # no time zone: rule E3
    ):
        with pytest.raises(errors.ValidationFailed) as info:
            file(owner, end)
        assert rules_of(info.value) == {rule}
    with pytest.raises(errors.ValidationFailed) as capped:
        file(owner, CAP + DAY)
    assert f"{POLICY.device_trial_max_days} days" in capped.value.errors[0].message
    with pytest.raises(errors.Conflict) as waiting:
        file(owner, CAP, one_waiting=True)
    assert waiting.value.rule == "D6"


# ---- deciding (rules D5, D6, D7) -----------------------------------------------------------


def decide(made: DeviceExtensionRequest, owner: Trial, approve: bool, *out: DeviceShipment) -> None:
    made.decide(approve, owner, list(out), CATALOG, POLICY, by="ops_1", note="ok", at=NOW + DAY)


def test_d6_an_approval_extends_the_device_services_and_moves_the_devices_due() -> None:
    owner = trial()
    out = shipped(owner)
    made = request(end=CAP)
    decide(made, owner, True, out)
    assert (made.decision, made.decided_at, made.decided_by_admin_id, made.note) == (
        "approved",
        NOW + DAY,
        "ops_1",
        "ok",
    )
    assert owner.ends_at == CAP
    assert owner.extensions[-1].reason is not None
    assert "dxr_1" in owner.extensions[-1].reason
    assert out.eula_due_at == CAP
    assert out.return_due_at == CAP + POLICY.device_return_days * DAY
    assert [e.action for e in made.drain_events()] == ["device_extension.approved"]
    assert "trial.extended" in [e.action for e in owner.drain_events()]


def test_d6_an_approval_in_grace_makes_the_trial_active_again() -> None:
    owner = trial(status=TrialStatus.EXPIRED)
    decide(request(end=CAP), owner, True)
    assert owner.status == "active"


def test_d5_the_approval_edge_and_a_denial_past_it() -> None:
    decide(request(end=CAP), trial(), True)  # exactly the maximum: approved
    late = request(end=CAP + timedelta(seconds=1))
    owner = trial()
    with pytest.raises(errors.ValidationFailed) as info:
        decide(late, owner, True)
    assert info.value.rule == "D5"
    assert (late.decision, late.drain_events(), owner.ends_at) == ("pending", [], NOW + 90 * DAY)
    decide(late, owner, False)  # a denial is never past the maximum
    assert (late.decision, owner.ends_at) == ("denied", NOW + 90 * DAY)


def test_d6_a_request_is_decided_once() -> None:
    for first, second in ((True, False), (False, True), (True, True), (False, False)):
        made = request()
        decide(made, trial(), first)
        with pytest.raises(errors.Conflict) as info:
            decide(made, trial(), second)
        assert info.value.message == "This request was already decided."


@pytest.mark.parametrize("status", sorted(set(TrialStatus) - RUNNING_STATUSES))
def test_d6_an_approval_needs_a_running_trial_a_denial_does_not(status: TrialStatus) -> None:
    made = request()
    refusal = errors.IrreversibleLapse if status is TrialStatus.LAPSED else errors.InvalidTransition
    with pytest.raises(refusal):
        decide(made, trial(status=status), True)
    assert made.decision == "pending"
    decide(made, trial(status=status), False)
    assert made.decision == "denied"
