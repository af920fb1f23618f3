"""Pure domain: the trial aggregate's behaviour and guards, one release step (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from trialhub.catalog import get_catalog
from trialhub.domain.errors import (
    ErrorCollector,
    InvalidTransition,
    IrreversibleLapse,
    TrialhubError,
)
from trialhub.domain.policy import DEFAULT_POLICY
from trialhub.domain.states import (
    LAPSED_IS_FINAL,
    RUNNING_STATUSES,
    TrialStatus,
    can_convert,
    can_extend,
)
from trialhub.domain.trial import Trial
from trialhub.domain.trial_parts import ServiceChoice, SiteChoice, TrialKind

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CATALOG = get_catalog()
POLICY = DEFAULT_POLICY
SITE = SiteChoice("acme", "Europe/Paris")


def new_trial(
    *codes: str,
    kind: TrialKind = TrialKind.NEW_CUSTOMER,
    setup: str = "now",
    site: SiteChoice | None = None,
) -> Trial:
    return Trial.new(
        partner_id="ptn_1",
        org_id="org_1",
        customer_id="cus_1",
        kind=kind,
        services=[ServiceChoice(c, None, 10) for c in codes or ("calling",)],
        duration_days=90,
        user_licenses=10,
        setup=setup,
        site=site,
        by="adm_1",
        at=NOW,
        policy=POLICY,
        consent_email="it@acme.example" if kind is TrialKind.EXISTING_CUSTOMER else None,
    )


def in_status(status: TrialStatus, *codes: str, site: SiteChoice | None = None) -> Trial:
    """A provisioned trial set to `status`, as the store would load it."""
    trial = new_trial(*codes, site=site)
    trial.status = status.value
    trial.drain_events()
    return trial


def actions(trial: Trial) -> list[str]:
    return [e.action for e in trial.drain_events()]


# ---- new and provision (rules C3, K4, K6, T1) ----------------------------------------------


def test_a_new_customer_trial_set_up_now_runs_for_its_duration() -> None:
    trial = new_trial("calling", "meetings", site=SITE)
    assert (trial.status, trial.starts_at, trial.ends_at) == ("active", NOW, NOW + 90 * DAY)
    assert (trial.awaiting_provisioning_at, trial.active_at) == (NOW, NOW)
    assert [s.service for s in trial.services] == ["calling", "meetings"]
    assert all(s.is_open for s in trial.services)
    assert trial.site is not None
    assert (trial.site.url, trial.site.time_zone) == ("acme.webex.com", "Europe/Paris")
    assert actions(trial) == ["trial.created", "trial.active"]
    assert trial.welcomes_customer


def test_set_up_later_awaits_provisioning_then_provision_starts_it() -> None:
    trial = new_trial(setup="later")
    assert (trial.status, trial.ends_at) == ("awaiting_provisioning", None)
    trial.provision(NOW + DAY)
    assert (trial.status, trial.ends_at) == ("active", NOW + 91 * DAY)
    with pytest.raises(InvalidTransition) as info:
        trial.provision(NOW + 2 * DAY)
    assert info.value.rule == "K4"


def test_an_existing_organization_waits_for_consent_within_the_policy_window() -> None:
    trial = new_trial(kind=TrialKind.EXISTING_CUSTOMER, setup="now")
    assert (trial.status, trial.setup) == ("pending_consent", "later")
    assert trial.consent_deadline == NOW + POLICY.consent_window
    assert trial.consent_email == "it@acme.example"
    assert not trial.consent_expired(trial.consent_deadline - DAY)
    assert trial.consent_expired(trial.consent_deadline)
    trial.require_pending_consent(NOW, POLICY)
    with pytest.raises(InvalidTransition) as info:
        trial.require_pending_consent(trial.consent_deadline, POLICY)
    assert info.value.rule == "K6"
    assert f"{POLICY.consent_window_days}-day" in info.value.message
    trial.accept(NOW + DAY)
    assert trial.status == "awaiting_provisioning"
    with pytest.raises(InvalidTransition):
        trial.require_pending_consent(NOW, POLICY)


# ---- guards beside the state table ---------------------------------------------------------


@pytest.mark.parametrize("status", list(TrialStatus))
def test_only_a_running_trial_extends_or_converts(status: TrialStatus) -> None:
    assert can_extend(status) is can_convert(status) is (status in RUNNING_STATUSES)


@pytest.mark.parametrize("status", list(TrialStatus))
def test_extend_guard_for_every_status(status: TrialStatus) -> None:  # rules T3, T7
    trial = in_status(status, "messaging")
    if status in RUNNING_STATUSES:
        trial.extend(NOW, POLICY, CATALOG, by="adm_1", reason=None)
        return
    expected = IrreversibleLapse if status is TrialStatus.LAPSED else InvalidTransition
    with pytest.raises(expected) as info:
        trial.extend(NOW, POLICY, CATALOG, by="adm_1", reason=None)
    assert info.value.rule == ("T7" if status is TrialStatus.LAPSED else "T3")
    assert trial.extensions == []


@pytest.mark.parametrize("status", list(TrialStatus))
def test_convert_guard_for_every_status(status: TrialStatus) -> None:  # rules V4, T7
    trial = in_status(status, "messaging")
    if status in RUNNING_STATUSES:
        trial.convert(NOW, POLICY, CATALOG, lost=())
        assert trial.status == "converted"
        return
    expected = IrreversibleLapse if status is TrialStatus.LAPSED else InvalidTransition
    with pytest.raises(expected) as info:
        trial.convert(NOW, POLICY, CATALOG, lost=())
    assert info.value.rule == ("T7" if status is TrialStatus.LAPSED else "V4")
    assert trial.status == status.value


@pytest.mark.parametrize("status", list(TrialStatus))
def test_services_change_guard_for_every_status(status: TrialStatus) -> None:  # rule S4
    trial = in_status(status, "messaging")
    allowed = {TrialStatus.ACTIVE, TrialStatus.AWAITING_PROVISIONING}
    if status in allowed:
        trial.require_services_changeable()
        return
    expected = IrreversibleLapse if status is TrialStatus.LAPSED else InvalidTransition
    with pytest.raises(expected):
        trial.require_services_changeable()


def test_lapsed_is_final_in_one_message() -> None:  # rule T7
    trial = in_status(TrialStatus.LAPSED)
    refusals = [
        lambda: trial.extend(NOW, POLICY, CATALOG, by=None, reason=None),
        lambda: trial.delete(NOW, POLICY, CATALOG),
        lambda: trial.convert(NOW, POLICY, CATALOG, lost=()),
        trial.require_services_changeable,
        lambda: trial.expire(NOW),
    ]
    for refuse in refusals:
        with pytest.raises(IrreversibleLapse) as info:
            refuse()
        assert (info.value.message, info.value.rule) == (LAPSED_IS_FINAL, "T7")


# ---- extend (rules T3, D5, D6) -------------------------------------------------------------


def test_extend_adds_the_policy_days_to_the_later_of_end_and_now() -> None:
    trial = in_status(TrialStatus.ACTIVE)
    assert trial.ends_at is not None
    end = trial.ends_at
    trial.extend(end - 65 * DAY, POLICY, CATALOG, by="adm_1", reason="pilot")
    assert trial.ends_at == end + POLICY.extension_days * DAY
    (ext,) = trial.extensions
    assert (ext.admin_id, ext.previous_end, ext.new_end, ext.reason) == (
        "adm_1",
        end,
        trial.ends_at,
        "pilot",
    )
    assert actions(trial) == ["trial.extended"]


def test_extending_in_grace_counts_from_now_and_reactivates() -> None:
    trial = in_status(TrialStatus.EXPIRED)
    assert trial.ends_at is not None
    later = trial.ends_at + 10 * DAY
    trial.extend(later, POLICY, CATALOG, by="adm_1", reason=None)
    assert (trial.status, trial.ends_at) == ("active", later + POLICY.extension_days * DAY)
    events = trial.drain_events()
    assert [e.action for e in events] == ["trial.extended", "trial.active"]
    assert events[1].after == {"status": "active", "reason": "extended in grace period"}


def test_device_services_are_extended_on_request_with_the_policy_cap() -> None:  # rule D6
    trial = in_status(TrialStatus.ACTIVE, "room_devices")
    with pytest.raises(TrialhubError) as info:
        trial.extend(NOW, POLICY, CATALOG, by="adm_1", reason=None)
    assert (info.value.rule, info.value.code) == ("D6", "device_extension_required")
    assert f"at most {POLICY.device_trial_max_days} days" in info.value.message
    strict = replace(POLICY, device_trial_max_days=60)
    with pytest.raises(TrialhubError) as info:
        trial.extend(NOW, strict, CATALOG, by="adm_1", reason=None)
    assert "at most 60 days" in info.value.message


def test_extension_caps_of_the_policy() -> None:  # rule T3
    once = replace(POLICY, max_extensions=1)
    trial = in_status(TrialStatus.ACTIVE)
    trial.extend(NOW, once, CATALOG, by=None, reason=None)
    with pytest.raises(TrialhubError) as info:
        trial.extend(NOW, once, CATALOG, by=None, reason=None)
    assert info.value.rule == "T3"
    short = replace(POLICY, max_total_days=100)
    with pytest.raises(TrialhubError) as info:
        in_status(TrialStatus.ACTIVE).extend(NOW, short, CATALOG, by=None, reason=None)
    assert "at most 100 days" in info.value.message


def test_a_device_extension_in_grace_reactivates_with_its_own_reason() -> None:  # rule D6
    trial = in_status(TrialStatus.EXPIRED, "room_devices")
    trial.extend_to(NOW + 100 * DAY, NOW, by="op_1", reason="approved", rule="D6")
    events = trial.drain_events()
    assert events[-1].after == {"status": "active", "reason": "device extension approved"}


# ---- change services (rules S2, S3, S4) ----------------------------------------------------


def test_removing_meetings_frees_it_and_its_site_adding_holds_the_new_one() -> None:
    trial = in_status(TrialStatus.ACTIVE, "meetings", "messaging", site=SITE)
    trial.change_services(
        NOW,
        CATALOG,
        add=[ServiceChoice("calling", None, 10)],
        remove=["meetings"],
        user_licenses=0,
        site=None,
    )
    meetings = next(s for s in trial.services if s.service == "meetings")
    assert (meetings.removed_at, meetings.is_open) == (NOW, False)
    assert trial.site is not None
    assert trial.site.released_at == NOW
    assert trial.open_service_codes() == ["messaging", "calling"]
    (event,) = trial.drain_events()
    assert event.after == {"added": ["calling"], "removed": ["meetings"]}
    trial.change_services(
        NOW,
        CATALOG,
        add=[ServiceChoice("meetings", "enterprise", 10)],
        remove=[],
        user_licenses=0,
        site=SiteChoice("acme2", "UTC"),
    )
    assert (trial.site.name, trial.site.released_at) == ("acme2", None)


def test_removal_rules_collect_every_problem() -> None:  # rule S4
    trial = in_status(TrialStatus.ACTIVE, "messaging")
    errors = ErrorCollector()
    trial.check_removals(["boards", "messaging"], ["messaging"], errors)
    assert [e.field for e in errors.errors] == ["remove[0]", "add"]
    errors = ErrorCollector()
    trial.check_removals(["messaging"], [], errors)
    assert [(e.field, e.rule) for e in errors.errors] == [("remove", "S4")]


# ---- the one release step: lapse, delete, cancel, convert (rules K5, T7-T9, V3-V5) ----------


def test_lapse_releases_everything_and_keeps_calling_numbers_for_the_retention() -> None:
    trial = in_status(TrialStatus.EXPIRED, "calling", "meetings", site=SITE)
    trial.lapse(NOW, POLICY, CATALOG, users_moved=3)
    assert trial.status == "lapsed"
    assert all(s.removed_at == NOW and not s.is_open for s in trial.services)
    assert trial.site is not None
    assert trial.site.released_at == NOW
    assert trial.numbers_release_at == NOW + POLICY.number_retention
    events = trial.drain_events()
    assert [e.action for e in events] == ["trial.lapsed", "trial.released"]
    assert events[1].after == {"users_moved": 3, "numbers_kept": True}


def test_delete_releases_and_refuses_a_pending_request() -> None:  # rules T9, K5
    trial = in_status(TrialStatus.ACTIVE, "messaging", "meetings", site=SITE)
    trial.delete(NOW, POLICY, CATALOG)
    assert trial.status == "deleted"
    assert trial.numbers_release_at is None  # no Calling
    assert trial.site is not None
    assert trial.site.released_at == NOW
    assert all(s.removed_at == NOW for s in trial.services)
    pending = new_trial(kind=TrialKind.EXISTING_CUSTOMER)
    with pytest.raises(InvalidTransition) as info:
        pending.delete(NOW, POLICY, CATALOG)
    assert info.value.rule == "K5"


def test_cancel_frees_the_site_of_a_request_that_held_no_licenses() -> None:  # rules K5, K6
    trial = new_trial("calling", "meetings", kind=TrialKind.EXISTING_CUSTOMER, site=SITE)
    trial.drain_events()
    trial.cancel(NOW, POLICY, CATALOG, reason="declined")
    assert trial.status == "cancelled"
    assert trial.site is not None
    assert trial.site.released_at == NOW
    assert [s.removed_at for s in trial.services] == [None, None]  # never provisioned
    assert not any(s.is_open for s in trial.services)
    assert trial.numbers_release_at is None
    (event,) = trial.drain_events()
    assert (event.before, event.after) == (
        {"status": "pending_consent"},
        {"status": "cancelled", "reason": "declined"},
    )
    with pytest.raises(InvalidTransition) as info:
        in_status(TrialStatus.ACTIVE).cancel(NOW, POLICY, CATALOG, reason="cancelled")
    assert info.value.rule == "K5"


@pytest.mark.parametrize(
    ("lost", "site_released", "numbers_kept"),
    [((), False, False), (("meetings",), True, False), (("calling",), False, True)],
)
def test_convert_releases_only_what_the_order_lost(
    lost: tuple[str, ...], site_released: bool, numbers_kept: bool
) -> None:  # rules V3, V5
    trial = in_status(TrialStatus.ACTIVE, "calling", "meetings", site=SITE)
    trial.convert(NOW, POLICY, CATALOG, lost=lost)
    assert trial.status == "converted"
    assert sorted(s.service for s in trial.services if s.removed_at == NOW) == sorted(lost)
    assert trial.site is not None
    assert (trial.site.released_at == NOW) is site_released
    assert (trial.numbers_release_at is not None) is numbers_kept


def test_expire_starts_the_grace_period() -> None:  # rule T5
    trial = in_status(TrialStatus.ACTIVE)
    trial.expire(NOW)
    assert (trial.status, trial.expired_at, trial.is_open) == ("expired", NOW, True)
    assert all(s.is_open for s in trial.services)  # still held in grace (rule S3)
