"""Pure rule checks shared by the use cases: names, emails, sites, eligibility (C1, S2, S3)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from trialhub.domain.errors import ErrorCollector
from trialhub.domain.policy import Policy

_SITE_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


def normalize_email(raw: str) -> str:
    """Valid syntax, lower case (rule C1). Raises ValueError with a readable message."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    return result.normalized.lower()


def collect_email(raw: str, errors: ErrorCollector, field: str = "email") -> str:
    """The normalized email (rule C1), or "" with the reason added to `errors`."""
    try:
        return normalize_email(raw)
    except ValueError as error:
        errors.add(field, str(error))
        return ""


def clean_company_name(raw: str, policy: Policy) -> str:
    """Trimmed, 1 to 50 characters; duplicates are allowed (rule C1)."""
    name = " ".join(raw.split())
    if not name:
        raise ValueError("Enter the company name.")
    if len(name) > policy.company_name_max:
        raise ValueError(f"The company name can be at most {policy.company_name_max} characters.")
    return name


def parse_site_name(raw: str, policy: Policy) -> str:
    """`acme`, `acme.webex.com` or `https://acme.webex.com/` -> `acme` (rule S2)."""
    value = raw.strip().lower()
    value = re.sub(r"^https?://", "", value).rstrip("/")
    suffix = "." + policy.site_domain
    if value.endswith(suffix):
        value = value[: -len(suffix)]
    if "." in value or "/" in value:
        raise ValueError(f"The site URL must look like <name>.{policy.site_domain}.")
    if not policy.site_name_min <= len(value) <= policy.site_name_max:
        raise ValueError(
            f"The site name must be {policy.site_name_min} to {policy.site_name_max} characters."
        )
    if not _SITE_LABEL.match(value):
        raise ValueError(
            "The site name may hold only a-z, 0-9 and hyphens, and cannot start or end "
            "with a hyphen."
        )
    return value


@dataclass(frozen=True)
class Eligibility:
    """Whether one service can be trialed by this customer, and why not (rule S3)."""

    service: str
    eligible: bool
    reason: str | None = None
    code: str | None = None


def eligibility(
    service: str,
    *,
    purchased: set[str],
    open_holders: dict[str, str],
    partner_id: str,
) -> Eligibility:
    """Rule S3: not purchased, and no open trial of it by this or another partner."""
    if service in purchased:
        return Eligibility(
            service, False, "The customer already purchased this service.", "purchased"
        )
    holder = open_holders.get(service)
    if holder == partner_id:
        return Eligibility(
            service,
            False,
            "Your organization already has an open trial of this service.",
            "open_trial_own",
        )
    if holder is not None:
        return Eligibility(
            service,
            False,
            "Another partner already has an open trial of this service.",
            "open_trial_other",
        )
    return Eligibility(service, True)
