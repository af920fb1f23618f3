"""Device (D1-D9) and conversion (V1-V5) rules of the domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trialhub.catalog import get_catalog
from trialhub.domain.conversion import (
    ConversionPath,
    check_convertible,
    check_losses_confirmed,
    check_provisioning_email,
    conversion_path,
    lost_services,
)
from trialhub.domain.devices import (
    DeviceLine,
    DeviceShipment,
    ShippedDevice,
    check_return,
    is_demo_order,
    return_carrier,
    validate_order,
)
from trialhub.domain.errors import (
    Conflict,
    InvalidTransition,
    IrreversibleLapse,
    TrialhubError,
    ValidationFailed,
)
from trialhub.domain.policy import DEFAULT_POLICY
from trialhub.domain.states import TrialStatus

NOW = datetime(2026, 3, 2, tzinfo=UTC)
CAT = get_catalog()


def order(lines: list[tuple[str, int]], **kw: object) -> str:
    args: dict[str, object] = {
        "country": "US",
        "already_shipped_types": set(),
        "active_device_trials_of_partner": 0,
        "poe_supported": True,
        **kw,
    }
    return validate_order(
        CAT,
        DEFAULT_POLICY,
        lines=[DeviceLine(m, q) for m, q in lines],
        **args,  # type: ignore[arg-type]
    )


def rules_of(error: TrialhubError) -> set[str | None]:
    return {e.rule for e in error.errors} or {error.rule}


def test_d1_limits() -> None:
    assert order([("desk-phone-9841", 4)]) == "phone"
    assert order([("room-bar", 3)]) == "room"
    for lines, rule in (
        ([("desk-phone-9841", 5)], "D1"),  # at most 4 phones
        ([("room-bar", 4)], "D1"),  # at most 3 room devices
        ([("desk-pro", 6)], "D1"),  # 1-5 per order
        ([], "D1"),
        ([("toaster", 1)], "D1"),
        ([("board-pro-75", 1)], "D1"),  # does not ship to CA (checked below)
    ):
        if lines == [("board-pro-75", 1)]:
            with pytest.raises(ValidationFailed) as info:
                order(lines, country="CA")
        else:
            with pytest.raises(ValidationFailed) as info:
                order(lines)
        assert rule in rules_of(info.value)
    with pytest.raises(Conflict) as busy:
        order([("room-bar", 1)], active_device_trials_of_partner=20)
    assert busy.value.rule == "D1"


def test_d2_one_shipment_per_type() -> None:
    with pytest.raises(ValidationFailed) as mixed:
        order([("room-bar", 1), ("desk-pro", 1)])
    assert "D2" in rules_of(mixed.value)
    with pytest.raises(Conflict) as again:
        order([("desk-phone-9841", 2)], already_shipped_types={"phone"})
    assert again.value.rule == "D2"


def test_d3_phones_ask_about_poe() -> None:
    with pytest.raises(ValidationFailed) as info:
        order([("desk-phone-9841", 1)], poe_supported=None)
    assert info.value.field == "poe_supported"
    assert order([("room-bar", 1)], poe_supported=None) == "room"


# rules D5, D6 (the cap of an approval): tests/unit/test_device_aggregate.py


def shipment() -> DeviceShipment:
    s = DeviceShipment(
        id="shp_1",
        trial_id="t",
        device_type="room",
        demo_order="D123456",
        recipient="customer",
        address={"name": "Ann", "phone": "+1 555", "country": "US"},
    )
    s.ship(
        at=NOW,
        eula_due_at=NOW + timedelta(days=90),
        devices=[
            ShippedDevice("room-bar", "room", "FOC123"),
            ShippedDevice("room-bar", "room", "FOC456"),
        ],
        carrier="UPS",
        tracking="1Z",
        return_carrier="UPS",
        policy=DEFAULT_POLICY,
    )
    return s


def test_d7_due_back_14_days_after_the_eula_date() -> None:
    s = shipment()
    assert s.return_due_at == NOW + timedelta(days=104)
    assert not s.overdue(NOW + timedelta(days=104, seconds=-1))
    assert s.overdue(NOW + timedelta(days=104))
    # reminders before the return date: on the device due date and 3 days before (rule D7)
    assert s.reminder_instants(DEFAULT_POLICY) == [
        NOW + timedelta(days=90),
        NOW + timedelta(days=101),
    ]
    with pytest.raises(Conflict):  # shipped once only
        s.ship(
            at=NOW,
            eula_due_at=NOW,
            devices=[],
            carrier="x",
            tracking="y",
            return_carrier="z",
            policy=DEFAULT_POLICY,
        )
    s.returned_at = NOW
    s.status = "returned"
    assert not s.overdue(NOW + timedelta(days=200))
    assert s.reminder_instants(DEFAULT_POLICY) == []


def test_d8_carriers_and_serial_matching() -> None:
    assert return_carrier("US", "US") == "UPS"
    assert return_carrier("CA", "CA") == "DHL"
    assert return_carrier("DE", "EU") == "DHL"
    assert return_carrier("GB", "UK") == "DHL"
    assert return_carrier("AU", "AU") == "Expeditors"
    assert return_carrier("JP", "JP") == "trials team"
    s = shipment()
    assert check_return(s, ["foc123", " FOC456 "]).accepted
    bad = check_return(s, ["FOC123", "FOC999"])
    assert (bad.accepted, bad.missing, bad.unexpected) == (False, ("FOC456",), ("FOC999",))


def test_d9_demo_order_numbers() -> None:
    assert is_demo_order("D123456")
    assert not is_demo_order("123456")
    assert not is_demo_order("DX12345")


def test_v1_who_converts() -> None:
    assert conversion_path(1) is ConversionPath.DIRECT
    assert conversion_path(2) is ConversionPath.DISTRIBUTOR_REQUEST
    assert conversion_path(2, is_distributor=True) is ConversionPath.DIRECT


def test_v2_provisioning_email() -> None:
    partner, customer = {"sam@partner.example"}, {"ann@acme.example"}
    kw = {"partner_admin_emails": partner, "customer_admin_emails": customer}
    assert (
        check_provisioning_email("sam@partner.example", confirm_new_organization=False, **kw)
        is False
    )  # type: ignore[arg-type]
    assert (
        check_provisioning_email("ann@acme.example", confirm_new_organization=False, **kw) is False
    )  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed) as info:
        check_provisioning_email("typo@acme.example", confirm_new_organization=False, **kw)  # type: ignore[arg-type]
    assert info.value.rule == "V2"
    assert check_provisioning_email("new@else.example", confirm_new_organization=True, **kw) is True  # type: ignore[arg-type]


def test_v3_lost_services_need_confirmation() -> None:
    lost = lost_services(["meetings", "calling", "messaging"], ["meetings"])
    assert lost == ["calling", "messaging"]
    with pytest.raises(ValidationFailed) as info:
        check_losses_confirmed(lost, confirmed=False)
    assert info.value.rule == "V3"
    check_losses_confirmed(lost, confirmed=True)
    check_losses_confirmed([], confirmed=False)


@pytest.mark.parametrize("status", list(TrialStatus))
def test_v4_when_a_trial_converts(status: TrialStatus) -> None:
    if status in (TrialStatus.ACTIVE, TrialStatus.EXPIRED):
        check_convertible(status)
    elif status is TrialStatus.LAPSED:
        with pytest.raises(IrreversibleLapse):
            check_convertible(status)
    else:
        with pytest.raises(InvalidTransition):
            check_convertible(status)
