"""Renders the outbox's email templates: a subject, a plain-text part and an HTML part."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trialhub.catalog import get_catalog
from trialhub.domain.policy import DEFAULT_POLICY, Policy
from trialhub.services.kernel.ports import RenderedEmail

TEMPLATES = (
    "consent_request",
    "consent_decided",
    "consent_expired",
    "trial_started",
    "welcome",
    "expiry_notice",
    "access_ended",
    "trial_lapsed",
    "numbers_released",
    "devices_shipped",
    "device_return_reminder",
    "devices_overdue",
    "return_label",
    "device_extension_requested",
    "device_extension_decided",
    "trial_converted",
    "conversion_requested",
    "conversion_declined",
    "webhook_disabled",
    "password_reset",
)


_OPTIONAL = (
    "customer_url",
    "purchase_url",
    "sign_in_url",
    "access",
    "decision",
    "expires_at",
    "due_at",
    "days_left",
    "audience",
    "org_id",
    "recipient_is_full_admin",
    "carrier",
    "tracking",
    "reason",
    "note",
)


def _service_names(codes: Any) -> list[str]:
    services = get_catalog().services
    out = []
    for code in codes or []:
        out.append(services[code].name if code in services else str(code))
    return out


def _date(value: Any) -> str:
    if not value:
        return ""
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant.strftime("%d %B %Y, %H:%M UTC")


class JinjaRenderer:
    """One `.subject.txt`, `.txt` and `.html` template per email; HTML autoescaped."""

    def __init__(self, public_url: str, purchase_url: str, policy: Policy = DEFAULT_POLICY) -> None:
        self.public_url = public_url.rstrip("/")
        self.purchase_url = purchase_url
        # the policy's windows and limits, so that no template restates a number
        self.policy = policy
        self._text = Environment(
            loader=PackageLoader("trialhub.notify", "templates"),
            autoescape=False,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._html = Environment(
            loader=PackageLoader("trialhub.notify", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
        )
        for env in (self._text, self._html):
            env.filters["service_names"] = _service_names
            env.filters["date"] = _date

    def render(self, template: str, payload: dict[str, Any], *, recipient: str) -> RenderedEmail:
        if template not in TEMPLATES:
            raise ValueError(f"unknown email template {template!r}")
        data = {
            # optional keys a template may test; missing required ones still fail loudly
            **dict.fromkeys(_OPTIONAL),
            "services": [],
            "organization": "",
            "partner": "",
            **payload,
            "recipient": recipient,
            "public_url": self.public_url,
            "policy": self.policy,
        }
        data["sign_in_url"] = data["sign_in_url"] or f"{self.public_url}/"
        if data.get("org_id") and not data["purchase_url"]:
            data["purchase_url"] = self.purchase_url.replace("{org_id}", str(data["org_id"]))
        subject = self._text.get_template(f"{template}.subject.txt").render(data).strip()
        text = self._text.get_template(f"{template}.txt").render(data)
        html = self._html.get_template(f"{template}.html").render(data, subject=subject)
        return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)
