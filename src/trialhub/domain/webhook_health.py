"""The health of a webhook endpoint: per-endpoint backoff, a circuit breaker, and disabling
an endpoint that has failed for days (rule E2: retries must not become hammering).

- Closed: messages go, one after another, up to `webhook_messages_per_pass` per pass.
- A failed attempt holds back every message of the endpoint until `retry_at` (backoff:
  30 s, doubling, capped), however many are queued: a dead endpoint costs one attempt per
  backoff, not one per message.
- Open: after `webhook_breaker_threshold` failures in a row, a single message (the probe)
  goes when the backoff ends (half-open); a success closes the circuit, a failure opens it
  again for longer.
- Disabled: a failure when the endpoint has failed without a single success for
  `webhook_disable_after_days` disables it; its partner re-enables it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from trialhub.domain.policy import Policy
from trialhub.domain.records import WebhookEndpoint

DISABLED_FAILING = "failing"
DISABLED_DELETED = "deleted"


def allowed_now(endpoint: WebhookEndpoint, now: datetime, policy: Policy) -> int:
    """How many of the endpoint's messages may be attempted in this pass."""
    if endpoint.disabled_at is not None:
        return 0
    if endpoint.retry_at is not None and endpoint.retry_at > now:
        return 0  # backing off, or the circuit is open
    if endpoint.failures >= policy.webhook_breaker_threshold:
        return 1  # half-open: one probe
    return policy.webhook_messages_per_pass


def record_success(endpoint: WebhookEndpoint) -> None:
    endpoint.failures = 0
    endpoint.failing_since = None
    endpoint.retry_at = None


def record_failure(endpoint: WebhookEndpoint, now: datetime, policy: Policy) -> bool:
    """Backs the endpoint off; True when it has failed long enough to be disabled."""
    endpoint.failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.retry_at = now + backoff(endpoint.failures, policy)
    return now - endpoint.failing_since >= timedelta(days=policy.webhook_disable_after_days)


def backoff(failures: int, policy: Policy) -> timedelta:
    """30 s after the first failure, doubling with each one in a row, capped (1 h)."""
    seconds = policy.webhook_backoff_seconds * 2 ** min(max(0, failures - 1), 20)
    return timedelta(seconds=min(seconds, policy.webhook_backoff_max_seconds))


def reset(endpoint: WebhookEndpoint) -> None:
    """Re-enabled by its partner: a fresh start."""
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    record_success(endpoint)
