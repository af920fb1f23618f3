"""The trial aggregate: a service trial of one partner for one organization, with its
services, extensions and Meetings site, and everything it does in its life (rules K4-K6,
S2-S4, T1, T3, T5, T7-T9, V4, V5).

A use case loads a trial, calls one of its methods and queues the messages; the method
checks the guards (domain/states.py), moves the status through the state table, and
releases what the trial held, in one step, whichever way it ends.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from trialhub.catalog import Catalog
from trialhub.domain.errors import ErrorCollector, InvalidTransition, ValidationFailed
from trialhub.domain.events import EventSource
from trialhub.domain.ids import new_id
from trialhub.domain.policy import Policy
from trialhub.domain.states import (
    OPEN_STATUSES,
    TRIAL_STATES,
    TrialStatus,
    require_changeable,
    require_not_lapsed,
    require_running,
)
from trialhub.domain.trial_parts import (
    Extension,
    MeetingsSite,
    ServiceChoice,
    SiteChoice,
    TrialKind,
    TrialOwners,
    TrialService,
)

# why an extension in the grace period makes the trial active again, by the rule it follows
_BACK_TO_ACTIVE = {"T3": "extended in grace period", "D6": "device extension approved"}


@dataclass(eq=False)
class Trial(EventSource):
    """A service trial of one partner for one organization."""

    SUBJECT_TYPE: ClassVar[str] = "trial"

    id: str
    partner_id: str
    org_id: str
    customer_id: str
    kind: str
    status: str
    duration_days: int
    user_licenses: int
    setup: str
    created_at: datetime
    updated_at: datetime
    created_by_admin_id: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    consent_deadline: datetime | None = None
    consent_email: str | None = None  # the administrator email the request was made for (K1)
    pending_consent_at: datetime | None = None
    awaiting_provisioning_at: datetime | None = None
    active_at: datetime | None = None
    expired_at: datetime | None = None
    lapsed_at: datetime | None = None
    converted_at: datetime | None = None
    cancelled_at: datetime | None = None
    deleted_at: datetime | None = None
    numbers_release_at: datetime | None = None  # rules T8, T9
    version: int = 1
    services: list[TrialService] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    site: MeetingsSite | None = None

    @classmethod
    def new(
        cls,
        *,
        partner_id: str,
        org_id: str,
        customer_id: str,
        kind: TrialKind,
        services: Sequence[ServiceChoice],
        duration_days: int,
        user_licenses: int,
        setup: str,
        site: SiteChoice | None,
        by: str | None,
        at: datetime,
        policy: Policy,
        consent_email: str | None = None,
    ) -> Trial:
        """A trial of an existing organization waits for its consent (rules C3, K4, K6);
        the others await provisioning, and are provisioned at once when set up now (T1)."""
        pending = kind is TrialKind.EXISTING_CUSTOMER
        status = TrialStatus.PENDING_CONSENT if pending else TrialStatus.AWAITING_PROVISIONING
        trial = cls(
            id=new_id("trl"),
            partner_id=partner_id,
            org_id=org_id,
            customer_id=customer_id,
            kind=kind.value,
            status=status.value,
            duration_days=duration_days,
            user_licenses=user_licenses,
            setup="later" if pending else setup,
            created_by_admin_id=by,
            created_at=at,
            updated_at=at,
        )
        setattr(trial, TRIAL_STATES.stamps[status], at)
        if pending:
            trial.consent_email = consent_email
            trial.consent_deadline = at + policy.consent_window  # rule K6, by the worker
        trial._hold(services, site, at)
        if trial.setup == "now" and not pending:
            trial.provision(at)
        return trial

    def _hold(
        self, services: Sequence[ServiceChoice], site: SiteChoice | None, at: datetime
    ) -> None:
        """A new trial holds its services and site from the start (rules S2, S3)."""
        for choice in services:
            self._add_service(choice, at)
        if site is not None:
            self._reserve_site(site, at)
        self.record_event(
            "trial.created",
            at,
            kind=self.kind,
            status=self.status,
            services=[c.code for c in services],
            duration_days=self.duration_days,
            user_licenses=self.user_licenses,
            site=site.name if site else None,
        )

    # ---- reading ----------------------------------------------------------------------

    @property
    def status_enum(self) -> TrialStatus:
        return TrialStatus(self.status)

    @property
    def trial_id(self) -> str:
        """The trial's id under the name its parts use (shipments, requests, orders)."""
        return self.id

    def owners(self) -> TrialOwners:
        """The trial, partner and organization a new part of this trial belongs to."""
        return TrialOwners(trial_id=self.id, partner_id=self.partner_id, org_id=self.org_id)

    @property
    def is_open(self) -> bool:
        return self.status_enum in OPEN_STATUSES

    def open_services(self) -> list[TrialService]:
        return [s for s in self.services if s.removed_at is None]

    def open_service_codes(self) -> list[str]:
        return [s.service for s in self.open_services()]

    def days_left(self, now: datetime) -> int | None:
        return days_left(self.ends_at, now)

    @property
    def welcomes_customer(self) -> bool:
        """Rule T2: a new customer's administrator is welcomed when provisioning completes."""
        return self.kind == TrialKind.NEW_CUSTOMER and self.status_enum is TrialStatus.ACTIVE

    def consent_expired(self, now: datetime) -> bool:
        """Rule K6: the consent window has passed (the worker cancels the request)."""
        return self.consent_deadline is not None and now >= self.consent_deadline

    # ---- consent ----------------------------------------------------------------------

    def require_pending_consent(self, now: datetime, policy: Policy) -> None:
        """Rule K5: only a request still waiting, within its window (rule K6), is resent."""
        if self.status_enum is not TrialStatus.PENDING_CONSENT:
            raise InvalidTransition("The trial is not waiting for customer consent.", rule="K5")
        if self.consent_expired(now):
            raise InvalidTransition(
                f"The {policy.consent_window_days}-day consent window has passed; the request "
                "is being cancelled.",
                rule="K6",
            )

    def accept(self, at: datetime) -> None:
        """Rules K3, K4: the customer consented; the trial awaits provisioning."""
        self._become(TrialStatus.AWAITING_PROVISIONING, at)

    # ---- running ----------------------------------------------------------------------

    def provision(self, at: datetime) -> None:
        """Rules K4, T1: provisioning completes; the trial runs from now for its duration."""
        if self.status_enum is not TrialStatus.AWAITING_PROVISIONING:
            raise InvalidTransition(
                f"Only a trial awaiting provisioning can be provisioned; this one is "
                f"{self.status_enum.label.lower()}.",
                rule="K4",
            )
        self.starts_at = at
        self.ends_at = at + timedelta(days=self.duration_days)
        self._become(TrialStatus.ACTIVE, at)

    def extend(
        self, at: datetime, policy: Policy, catalog: Catalog, *, by: str | None, reason: str | None
    ) -> None:
        """Rule T3: the new end is the later of the current end and now, plus the policy's
        extension; device services follow rules D5 and D6 instead."""
        require_running(self.status_enum, "extended", "T3")
        assert self.ends_at is not None  # provisioning set it
        if catalog.has_device_service(self.open_service_codes()):
            raise ValidationFailed(
                "Device services are extended by the trials team, at most "
                f"{policy.device_trial_max_days} days from the start: file a device extension "
                f"request instead (POST /v1/trials/{self.id}/device-extension-requests).",
                field="trial",
                rule="D6",
                code="device_extension_required",
            )
        if policy.max_extensions is not None and len(self.extensions) >= policy.max_extensions:
            raise ValidationFailed(
                f"This trial was already extended {len(self.extensions)} times, the most allowed.",
                field="trial",
                rule="T3",
            )
        new_end = max(self.ends_at, at) + timedelta(days=policy.extension_days)
        cap = policy.max_total_days
        if cap is not None and self.starts_at and new_end > self.starts_at + timedelta(days=cap):
            raise ValidationFailed(
                f"A trial may last at most {cap} days in all.", field="trial", rule="T3"
            )
        self.extend_to(new_end, at, by=by, reason=reason, rule="T3")

    def extend_to(
        self, new_end: datetime, at: datetime, *, by: str | None, reason: str | None, rule: str
    ) -> None:
        """Moves the end date and keeps the extension with who, when and why (rules T3, D6);
        a trial in its grace period is active again."""
        previous = self.ends_at
        self.ends_at = new_end
        self.extensions.append(Extension.new(self.id, at, previous, new_end, by=by, reason=reason))
        self.updated_at = at
        self.record_event(
            "trial.extended", at, previous_end=previous, new_end=new_end, reason=reason, rule=rule
        )
        if self.status_enum is TrialStatus.EXPIRED:
            self._become(TrialStatus.ACTIVE, at, reason=_BACK_TO_ACTIVE[rule])

    def require_services_changeable(self) -> None:
        """Rule S4, before the change is validated: its refusal comes first."""
        require_changeable(self.status_enum)

    def check_removals(
        self, remove: Sequence[str], add: Collection[str], errors: ErrorCollector
    ) -> None:
        """Rule S4: only the trial's own services go, none both added and removed, and never
        the last one (cancel or delete the trial instead)."""
        current = set(self.open_service_codes())
        for i, code in enumerate(remove):
            if code not in current:
                errors.add(f"remove[{i}]", f"{code!r} is not a service of this trial.", "S4")
        clashes = set(remove) & set(add)
        if clashes:
            errors.add("add", f"{', '.join(sorted(clashes))}: both added and removed.", "S4")
        if remove and not current - set(remove) and not add:
            errors.add(
                "remove",
                "A trial must keep at least one service; cancel or delete the trial instead.",
                "S4",
            )

    def change_services(
        self,
        at: datetime,
        catalog: Catalog,
        *,
        add: Sequence[ServiceChoice],
        remove: Sequence[str],
        user_licenses: int,
        site: SiteChoice | None,
    ) -> None:
        """Rule S4: services removed free their licenses (and the site with Meetings, rule
        S2) for others at once (rule S3); services added are held from now."""
        require_changeable(self.status_enum)
        current = {s.service: s for s in self.open_services()}
        for code in remove:
            current[code].removed_at = at
            current[code].is_open = False  # rule S3: free for others again
        if catalog.has_site_service(remove):
            self._release_site(at)
        for choice in add:
            self._add_service(choice, at)
        if user_licenses and not self.user_licenses:
            self.user_licenses = user_licenses
        if site is not None:
            self._reserve_site(site, at)
        self.updated_at = at
        self.record_event(
            "trial.services_changed", at, added=[c.code for c in add], removed=list(remove)
        )

    # ---- ending -----------------------------------------------------------------------

    def expire(self, at: datetime) -> None:
        """Rule T5: the end date passed; the grace period starts."""
        self._become(TrialStatus.EXPIRED, at)

    def lapse(self, at: datetime, policy: Policy, catalog: Catalog, *, users_moved: int) -> None:
        """Rule T7: the grace period ended unconverted; irreversibly, everything is released
        (Calling numbers after rule T8's retention)."""
        self._become(TrialStatus.LAPSED, at)
        numbers = self.release(at, policy, catalog, self.open_services())
        self.record_event("trial.released", at, users_moved=users_moved, numbers_kept=numbers)

    def delete(self, at: datetime, policy: Policy, catalog: Catalog) -> None:
        """Rule T9: ends the trial at once and releases what it held (Calling numbers after
        the retention); a request pending consent is cancelled instead (rule K5)."""
        require_not_lapsed(self.status_enum)
        if self.status_enum is TrialStatus.PENDING_CONSENT:
            raise InvalidTransition(
                "A request pending customer consent is cancelled, not deleted.", rule="K5"
            )
        self._become(TrialStatus.DELETED, at)
        self.release(at, policy, catalog, self.open_services())

    def cancel(self, at: datetime, policy: Policy, catalog: Catalog, *, reason: str) -> None:
        """Rules K5, K6: a request cancelled, declined or not accepted in time ends. It was
        never provisioned: it held its site name, but no licenses and no numbers."""
        if self.status_enum is not TrialStatus.PENDING_CONSENT:
            raise InvalidTransition(
                "Only a request pending customer consent can be cancelled; delete the trial "
                "instead.",
                rule="K5",
            )
        self._become(TrialStatus.CANCELLED, at, reason=reason)
        self.release(at, policy, catalog, ())

    def require_convertible(self) -> None:
        """Rule V4: while active or in grace; never after a lapse or cancellation."""
        require_running(self.status_enum, "converted", "V4")

    def convert(
        self, at: datetime, policy: Policy, catalog: Catalog, *, lost: Collection[str]
    ) -> None:
        """Rules V4, V5: the trial ends converted; the services the order left out are
        released like a deletion's (rule V3), the ordered ones live on as purchases."""
        self.require_convertible()
        self._become(TrialStatus.CONVERTED, at)
        self.release(at, policy, catalog, [s for s in self.open_services() if s.service in lost])

    def release(
        self, at: datetime, policy: Policy, catalog: Catalog, licenses: Sequence[TrialService]
    ) -> bool:
        """The one release step of a trial that ends (rules S2, T7, T8, T9, V3): the given
        services' licenses go; the Meetings site name is free again unless a conversion
        keeps its service; Calling numbers are kept for the policy's retention, then
        released. Returns whether numbers are kept."""
        for service in licenses:
            if service.removed_at is None:
                service.removed_at = at
        kept = self.status_enum is TrialStatus.CONVERTED and catalog.has_site_service(
            self.open_service_codes()
        )
        if not kept:
            self._release_site(at)
        numbers = catalog.keeps_numbers(s.service for s in licenses)
        if numbers:
            self.numbers_release_at = at + policy.number_retention
        return numbers

    # ---- parts ------------------------------------------------------------------------

    def _become(self, to: TrialStatus, at: datetime, *, reason: str | None = None) -> None:
        TRIAL_STATES.move(self, to, at, **({"reason": reason} if reason else {}))

    def _add_service(self, choice: ServiceChoice, at: datetime) -> None:
        self.services.append(TrialService.new(self.id, self.org_id, choice, at))

    def _reserve_site(self, choice: SiteChoice, at: datetime) -> None:
        """Rule S2: the name is held for the organization until released."""
        if self.site is None:
            self.site = MeetingsSite.reserve(self.id, self.org_id, choice, at)
        else:
            self.site.take_again(choice, at)

    def _release_site(self, at: datetime) -> None:
        if self.site is not None:
            self.site.release(at)


def days_left(ends_at: datetime | None, now: datetime) -> int | None:
    """Whole days until `ends_at`, rounded up, never below 0 (None without an end)."""
    if ends_at is None:
        return None
    seconds = (ends_at - now).total_seconds()
    return max(0, int(-(-seconds // 86400)))
