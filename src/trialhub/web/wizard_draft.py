"""The Start Trial wizard's draft: what was typed so far, carried from step to step in the
form itself (hidden fields), turned into the same `StartTrial` command the API takes.

Hidden fields rather than a server-side draft: nothing to store, expire or clean up, a
draft survives a server restart and works in two tabs at once, and Back is just another
POST of the same fields. Nothing in it is secret (the use case checks it all again on
start), and the start itself is guarded by the idempotency key of the review page.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from trialhub.catalog import Catalog
from trialhub.services.kernel import invalid_input
from trialhub.services.trials.schemas import PreviewTrial

# the wizard's steps in order (the seed: "On the Start New Trial page … click Next")
STEPS = ("customer", "existing", "services", "meetings", "devices", "review")
STEP_TITLES = {
    "customer": "Customer details",
    "existing": "Existing organization",
    "services": "Services",
    "meetings": "Meetings site",
    "devices": "Devices",
    "review": "Review",
}
# which step owns an error's field (the use case names fields as the API does)
FIELD_STEPS = (
    ("customer", "customer"),
    ("confirm_existing_org_id", "existing"),
    ("services", "services"),
    ("user_licenses", "services"),
    ("duration_days", "services"),
    ("meetings", "meetings"),
)


def step_of_field(name: str) -> str:
    return next((step for prefix, step in FIELD_STEPS if name.startswith(prefix)), "review")


@dataclass
class Draft:
    """Every field of the wizard as typed (strings), so that a wrong value comes back as it was."""

    company_name: str = ""
    admin_email: str = ""
    business_vertical: str = ""
    country: str = ""
    supported_location_ack: str = ""
    found_org_id: str = ""  # the organization the email belongs to (rule C3), if any
    confirm_existing_org_id: str = ""
    services: list[str] = field(default_factory=list)
    edition: str = ""  # the Meetings edition (rule S2)
    user_licenses: str = ""
    duration_days: str = ""
    quantities: dict[str, str] = field(default_factory=dict)  # device services (rule S1)
    site_url: str = ""
    time_zone: str = ""
    devices: str = ""  # "order" after start, or "skip" (rule D1)
    customer_id: str = ""  # a trial added to a customer of the list (rule A1)
    # issued with the first review page and kept from then on, so that the same wizard
    # sent again (double click, reload, Back and Save again) starts one trial
    idempotency_key: str = ""

    @classmethod
    def from_form(cls, form: FormData, catalog: Catalog) -> Draft:
        def text(name: str) -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else ""

        simple = {
            f.name: text(f.name)
            for f in fields(cls)
            if f.name not in ("services", "quantities", "supported_location_ack")
        }
        chosen = [v for v in form.getlist("services") if isinstance(v, str)]
        return cls(
            **simple,
            supported_location_ack="yes" if text("supported_location_ack") else "",
            services=[code for code in catalog.services if code in chosen],
            quantities={
                code: text(f"quantity_{code}")
                for code, d in catalog.services.items()
                if d.license_kind == "device" and text(f"quantity_{code}")
            },
        )

    def hidden(self, shown: str) -> list[tuple[str, str]]:
        """The (name, value) pairs of every field not shown on step `shown`, to carry on."""
        own = STEP_FIELDS[shown]
        out: list[tuple[str, str]] = []
        for name, value in asdict(self).items():
            if name in own:
                continue
            if name == "services":
                out.extend(("services", code) for code in value)
            elif name == "quantities":
                out.extend((f"quantity_{code}", q) for code, q in value.items())
            elif value:
                out.append((name, value))
        return out

    # ---- the command the API takes ---------------------------------------------------------

    def command(
        self, catalog: Catalog, *, upto: str = "review", setup: str = "now"
    ) -> PreviewTrial:
        """The start command with the fields of the steps up to `upto` (the preview of a
        step checks only what was asked so far); what Pydantic refuses comes back as the
        API's rule error (field, message, rule)."""
        reached = STEPS.index(upto)
        body: dict[str, Any] = {"setup": "later" if setup == "later" else "now"}
        if self.customer_id:
            body["customer_id"] = self.customer_id
        else:
            body["customer"] = {
                "company_name": self.company_name,
                "admin_email": self.admin_email,
                "business_vertical": self.business_vertical,
                "country": self.country,
                "supported_location_ack": bool(self.supported_location_ack),
            }
            body["confirm_existing_org_id"] = self.confirm_existing_org_id or None
        if reached >= STEPS.index("services"):
            body["services"] = self.service_choices(catalog)
            body["user_licenses"] = self.user_licenses or None
            body["duration_days"] = self.duration_days or None
        if reached >= STEPS.index("meetings") and self.needs_site(catalog):
            body["meetings"] = {"site_url": self.site_url, "time_zone": self.time_zone}
        try:
            return PreviewTrial.model_validate(body)
        except ValidationError as error:
            raise invalid_input(error) from None

    def service_choices(self, catalog: Catalog) -> list[dict[str, str | None]]:
        out = []
        for code in self.services:
            d = catalog.services[code]
            device = d.license_kind == "device"
            out.append(
                {
                    "code": code,
                    "edition": (self.edition or None) if d.editions else None,
                    "quantity": (self.quantities.get(code) or None) if device else None,
                }
            )
        return out

    def user_services(self, catalog: Catalog) -> bool:
        return catalog.has_user_service(self.services)

    def needs_site(self, catalog: Catalog) -> bool:
        """Rule S2: only Meetings Enterprise Edition takes a site URL and a time zone."""
        for code in self.services:
            d = catalog.services[code]
            edition = d.edition(self.edition or d.default_edition or "") if d.editions else None
            if edition is not None and edition.requires_site:
                return True
        return False

    def applies(self, step: str, catalog: Catalog) -> bool:
        if step == "existing":
            return bool(self.found_org_id)
        if step == "meetings":
            return self.needs_site(catalog)
        if step == "devices":
            return catalog.offers_devices(self.services)  # rule D1
        return True

    def next_step(self, step: str, catalog: Catalog, direction: int) -> str:
        i = STEPS.index(step) + direction
        while 0 < i < len(STEPS) - 1 and not self.applies(STEPS[i], catalog):
            i += direction
        return STEPS[max(0, min(i, len(STEPS) - 1))]

    def fingerprint(self, setup: str) -> str:
        """What a double click sends twice: the same draft with the same choice."""
        body = json.dumps([asdict(self), setup], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


# the fields each step shows (the others travel as hidden fields)
STEP_FIELDS: dict[str, frozenset[str]] = {
    "customer": frozenset(
        ("company_name", "admin_email", "business_vertical", "country", "supported_location_ack")
    ),
    "existing": frozenset(("confirm_existing_org_id",)),
    "services": frozenset(("services", "edition", "user_licenses", "duration_days", "quantities")),
    "meetings": frozenset(("site_url", "time_zone")),
    "devices": frozenset(("devices",)),
    "review": frozenset(),
}
