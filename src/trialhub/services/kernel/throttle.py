"""Throttling of guesses: failed secret checks are counted per client address and per
account, and past a limit every check of that secret from there answers 429 (rule X1).

One service for every secret the application checks, keyed by what is checked and who
tries: bearer tokens, consent links, the portal's passwords and reset links.
Only failures count, so heavy legitimate use is never slowed (requests for a reset email
count each: each sends an email). The counts live in a `limits`
storage shared by every process: the database by default, Redis when configured."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from trialhub.domain.errors import RateLimited, TrialhubError
from trialhub.domain.policy import FailureLimit, Policy

if TYPE_CHECKING:
    from trialhub.services.kernel.context import Context


log = logging.getLogger("trialhub.throttle")

Limit = tuple[RateLimitItem, tuple[str, ...]]  # a limit and the identifiers it counts for


class Secret(StrEnum):
    """What a caller proves it knows; each has its own counts."""

    BEARER_TOKEN = "bearer_token"
    CONSENT_LINK = "consent_link"
    PASSWORD = "password"  # the portal's sign-in
    RESET_LINK = "reset_link"  # an emailed password-reset link
    RESET_REQUEST = "reset_request"  # asking for one: each request counts (no email flood)


@dataclass(frozen=True)
class Attempt:
    """One check of a secret: from which client address, at which account if known."""

    secret: Secret
    address: str
    account: str | None = None


class Throttle:
    """Fixed-window failure counts (the `limits` library) in a storage shared by processes.

    `now` is the clock the storage's windows run on, for the Retry-After it reports.
    """

    def __init__(self, storage: Storage, now: Callable[[], datetime]) -> None:
        self._limiter = FixedWindowRateLimiter(storage)
        self._storage = storage
        self._now = now

    def ensure_allowed(self, policy: Policy, attempt: Attempt) -> None:
        """Refuses the attempt while its address or account has used up a limit."""
        self._refuse(self._used_up(self.limits(policy, attempt)))

    def limits(self, policy: Policy, attempt: Attempt) -> list[Limit]:
        """The limits an attempt is checked against: its address's, its account's."""
        return list(_limits(policy, attempt))

    def keys(self, limits: list[Limit]) -> list[str]:
        """The storage keys of these limits' current counts."""
        return [item.key_for(*ids) for item, ids in limits]

    def kept_in(self, db: object) -> bool:
        """Whether the counts are rows of this database (its `DatabaseStorage`): a caller
        may then read them with its own statement and pass them to `refuse_used_up`."""
        return getattr(self._storage, "db", None) is db

    def refuse_used_up(self, limits: list[Limit], hits: list[int]) -> None:
        """`ensure_allowed` with the limits' counts read by the caller (`keys` order)."""
        self._refuse(_with_none_left(limits, hits))

    def _refuse(self, used_up: list[Limit]) -> None:
        waits = [
            self._limiter.get_window_stats(item, *ids).reset_time - self._now().timestamp()
            for item, ids in used_up
        ]
        if waits:
            raise RateLimited(
                "Too many failed attempts from your address or at this account; "
                "wait before trying again.",
                retry_after=math.ceil(max(waits)),
            )

    def _used_up(self, limits: list[Limit]) -> list[Limit]:
        """The limits with no attempt left (limits' own test: hits < amount), read in one
        query where the storage can (the database's), else one a limit (Redis)."""
        get_many = getattr(self._storage, "get_many", None)
        if get_many is None:
            return [(item, ids) for item, ids in limits if not self._limiter.test(item, *ids)]
        return _with_none_left(limits, get_many(self.keys(limits)))

    def count_failure(self, policy: Policy, attempt: Attempt) -> None:
        for item, ids in _limits(policy, attempt):
            self._limiter.hit(item, *ids)


def _with_none_left(limits: list[Limit], hits: list[int]) -> list[Limit]:
    return [limit for limit, n in zip(limits, hits, strict=True) if n >= limit[0].amount]


@contextmanager
def checking(
    ctx: Context,
    attempt: Attempt,
    *,
    failure: type[TrialhubError],
    counts: tuple[list[Limit], list[int]] | None = None,
) -> Iterator[None]:
    """Refuses the check before it runs if a limit is used up; counts it if it fails.
    `counts`: the limits and their hits, when the caller read them already."""
    try:
        if counts is None:
            ctx.throttle.ensure_allowed(ctx.policy, attempt)
        else:
            ctx.throttle.refuse_used_up(*counts)
    except StorageError as error:  # the throttle is a guard, not a dependency: stay up
        log.warning("rate-limit storage unavailable, not throttling: %s", error)
    try:
        yield
    except failure:
        try:
            ctx.throttle.count_failure(ctx.policy, attempt)
        except StorageError as error:
            log.warning("rate-limit storage unavailable, not counting: %s", error)
        raise


def counting(ctx: Context, attempt: Attempt) -> None:
    """Refuses the attempt if a limit is used up, else counts it, failed or not: for
    requests that cost something to answer (an email)."""
    try:
        ctx.throttle.ensure_allowed(ctx.policy, attempt)
        ctx.throttle.count_failure(ctx.policy, attempt)
    except StorageError as error:  # the throttle is a guard, not a dependency: stay up
        log.warning("rate-limit storage unavailable, not throttling: %s", error)


def address_key(address: str) -> str:
    """The client address as counted: an IPv6 client by its /64, since one host commonly
    holds a whole /64 and could otherwise try from a new address each time."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _limits(policy: Policy, attempt: Attempt) -> Iterator[Limit]:
    subjects: list[tuple[str, str, tuple[FailureLimit, ...]]] = [
        ("address", address_key(attempt.address), policy.failures_per_address)
    ]
    if attempt.account is not None:
        per_account = (
            policy.sign_in_failures_per_account
            if attempt.secret in (Secret.PASSWORD, Secret.RESET_REQUEST)
            else policy.failures_per_account
        )
        subjects.append(("account", attempt.account.lower(), per_account))
    for kind, value, limits in subjects:
        # hashed: the keys stay short and the store holds no addresses or emails in clear
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        for limit in limits:
            item = RateLimitItemPerSecond(limit.failures, limit.seconds, namespace="trialhub")
            yield item, (attempt.secret.value, kind, digest)
