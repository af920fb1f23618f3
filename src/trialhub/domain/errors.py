"""One error hierarchy for every rule the domain and services enforce (architecture 7, rule E3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# rule E3 governs bad input that no more specific rule does: every input error names a rule
FALLBACK_RULE = "E3"


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field."""

    field: str
    message: str
    rule: str | None = None


class TrialhubError(Exception):
    """Base of every expected error: a stable code, a message, and the field and rule involved."""

    code = "trialhub_error"
    # seconds after which trying again may succeed; the API sends it as Retry-After
    retry_after: int | None = None
    default_rule: str | None = None

    def __init_subclass__(cls, code: str | None = None, **kwargs: Any) -> None:
        """Each kind of error names its stable code in its class line."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        errors: list[FieldError] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        rule = rule or self.default_rule
        self.message = message
        self.field = field
        self.rule = rule
        self.errors = errors or ([FieldError(field, message, rule)] if field else [])
        if code:
            self.code = code


class ValidationFailed(TrialhubError, code="validation_failed"):
    """Input breaks a rule; nothing was changed."""

    default_rule = FALLBACK_RULE


class NotFound(TrialhubError, code="not_found"):
    """The thing does not exist, or is outside the caller's partner (rule P3)."""


class Forbidden(TrialhubError, code="forbidden"):
    """The caller's role does not allow this action (rule P2)."""


class NotCertified(TrialhubError, code="partner_not_certified"):
    """The partner is not certified, so every write is refused (rule P1)."""


class Unauthenticated(TrialhubError, code="unauthenticated"):
    """No valid credentials were given."""


class RateLimited(TrialhubError, code="rate_limited"):
    """Too many failed attempts from this address or at this account; retry later (rule X1)."""

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field, rule="X1")
        self.retry_after = max(1, retry_after)


class Conflict(TrialhubError, code="conflict"):
    """The request clashes with the current state of the data (a duplicate, a taken name)."""


class InvalidTransition(TrialhubError, code="invalid_transition"):
    """The trial's status does not allow this move (the state table)."""


class ConsentUnavailable(TrialhubError, code="consent_unavailable"):
    """The consent link was used, cancelled or expired (rule K2)."""


class IrreversibleLapse(TrialhubError, code="trial_lapsed"):
    """The trial lapsed; conversion, extension and restore are impossible (rule T7)."""


@dataclass
class ErrorCollector:
    """Gathers every field error of one input so the caller gets them all at once."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, message: str, rule: str | None = None) -> None:
        self.errors.append(FieldError(field_name, message, rule or FALLBACK_RULE))

    def has(self, field_name: str) -> bool:
        return any(e.field == field_name for e in self.errors)

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        first = self.errors[0]
        message = (
            first.message if len(self.errors) == 1 else f"{len(self.errors)} fields are invalid"
        )
        # the problem's rule: the first specific one, else E3
        rule = next((e.rule for e in self.errors if e.rule != FALLBACK_RULE), FALLBACK_RULE)
        raise ValidationFailed(message, field=first.field, rule=rule, errors=list(self.errors))
