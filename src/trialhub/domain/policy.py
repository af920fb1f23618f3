"""Every time window and limit the rules name lives here, once, with its rule.

Reference data (services, license limits, durations, countries) is in the catalog instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class FailureLimit:
    """At most `failures` failed attempts in a window of `seconds` (rule X1)."""

    failures: int
    seconds: int


@dataclass(frozen=True)
class Policy:
    """The trial policy; defaults are the rules' numbers. One instance is shared by all layers."""

    # rule T3: an extension adds this much to max(end, now); caps (None = no cap)
    extension_days: int = 30
    max_extensions: int | None = None
    max_total_days: int | None = None
    # rule C1: company name length
    company_name_max: int = 50
    # rule S2: Meetings site name
    site_name_min: int = 3
    site_name_max: int = 63
    site_domain: str = "webex.com"
    # rule K6: consent window
    consent_window_days: int = 10
    # rule T4: expiry notices, days before the end date
    notice_days_before: tuple[int, ...] = (7, 0)
    # rules T5/T6/T7: grace period after the end date, users told at its end
    grace_days: int = 30
    # rules T8/T9: Calling numbers kept after grace end or deletion
    number_retention_days: int = 15
    # rule D5: device trials last at most this long, extensions included
    device_trial_max_days: int = 120
    # rule D7: devices due back this long after the device due date
    device_return_days: int = 14
    # rule D7: reminders this many days before the return date (14: on the device due date)
    device_reminder_days_before: tuple[int, ...] = (14, 3)
    # rule D1: device order limits
    devices_per_order: tuple[int, int] = (1, 5)
    max_room_devices: int = 3
    max_phones: int = 4
    max_active_device_trials_per_partner: int = 20
    # rule E2: webhook delivery. A receiver has this long to answer; at most this many
    # requests are in flight per worker, so slow endpoints cannot take every sender
    webhook_timeout_seconds: float = 10
    webhook_concurrency: int = 8
    # an endpoint's messages go one after another, at most this many per pass
    webhook_messages_per_pass: int = 10
    # a failed attempt holds back every message of its endpoint: 30 s, doubling, at most 1 h
    webhook_backoff_seconds: int = 30
    webhook_backoff_max_seconds: int = 3600
    # after this many failures in a row the circuit is open: one probe per backoff
    webhook_breaker_threshold: int = 5
    # an endpoint failing for this long is disabled and its partner told (as Stripe, Svix)
    webhook_disable_after_days: int = 5
    # pagination
    default_page_size: int = 50
    max_page_size: int = 200
    # idempotency keys are kept this long
    idempotency_ttl: timedelta = field(default=timedelta(hours=24))
    # a request holds its key this long; past it (its process died) a retry takes the key
    # over. Requests take milliseconds; a slower one that loses its key to a retry is
    # rolled back, so nothing is done twice (docs/api.md, Idempotency-Key)
    idempotency_lease: timedelta = field(default=timedelta(seconds=10))
    # an API token's "last used" time is written at most this often: a request whose token
    # was marked used more recently writes nothing (no write transaction for a GET, issue 11)
    token_touch_interval: timedelta = field(default=timedelta(minutes=1))
    # rule X1: failed secret checks (bearer tokens, consent links, the portal's passwords
    # and reset links) per client address and per account; past a limit, 429 until the
    # window ends. Ordinary use never fails 20 times a minute from one address.
    failures_per_address: tuple[FailureLimit, ...] = (FailureLimit(20, 60), FailureLimit(200, 3600))
    failures_per_account: tuple[FailureLimit, ...] = (FailureLimit(100, 3600),)
    # rule X1: a password is guessed at one account, so its account limit is tighter
    sign_in_failures_per_account: tuple[FailureLimit, ...] = (FailureLimit(10, 900),)
    # the portal's sign-in: a session ends after this long without a request (idle), and
    # this long after sign-in whatever happens (absolute) (OWASP session management)
    session_idle: timedelta = field(default=timedelta(hours=2))
    session_absolute: timedelta = field(default=timedelta(hours=12))
    # a password-reset link works once, for this long after it was sent
    password_reset_valid: timedelta = field(default=timedelta(hours=1))
    # rules E2, T10: a message or deadline that failed is retried after 30 s, 1 min, 2 min,
    # ... at most every 6 hours, never dropped
    retry_first_delay: timedelta = field(default=timedelta(seconds=30))
    retry_max_delay: timedelta = field(default=timedelta(hours=6))
    # rule T10: a deadline that failed this many times is shown as stuck (worker status)
    deadline_stuck_after_attempts: int = 5

    @property
    def consent_window(self) -> timedelta:
        return timedelta(days=self.consent_window_days)

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)

    @property
    def number_retention(self) -> timedelta:
        return timedelta(days=self.number_retention_days)


DEFAULT_POLICY = Policy()


def backoff(attempts: int, policy: Policy = DEFAULT_POLICY) -> timedelta:
    """How long to wait after the `attempts`-th failure (rules E2, T10): the outbox and the
    deadlines share it. 30 s, 1 min, 2 min, ... capped at the policy's maximum."""
    if attempts >= 32:  # past the cap long before; keeps the power small
        return policy.retry_max_delay
    delay: timedelta = policy.retry_first_delay * (2 ** max(0, attempts - 1))
    return min(delay, policy.retry_max_delay)
