"""Validation of the start-trial form, shared by preview and start (rules C1, C2, S1, S2, T1).

Every problem is collected with its field and rule, so the partner sees all of them at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from trialhub.catalog import Catalog, ServiceDef
from trialhub.domain.errors import ErrorCollector
from trialhub.domain.policy import Policy
from trialhub.domain.rules import clean_company_name, normalize_email, parse_site_name
from trialhub.domain.trial_parts import ServiceChoice, SiteChoice
from trialhub.services.trials.schemas import NewCustomer, StartTrial
from trialhub.services.trials.schemas import ServiceChoice as ServiceChoiceIn


@dataclass(frozen=True)
class CustomerFields:
    company_name: str
    admin_email: str
    business_vertical: str
    country: str
    region: str


@dataclass(frozen=True)
class ChosenService:
    definition: ServiceDef
    edition: str | None
    quantity: int


@dataclass
class ServiceFields:
    services: list[ChosenService] = field(default_factory=list)
    user_licenses: int = 0
    duration_days: int = 0
    site_name: str | None = None
    time_zone: str | None = None

    @property
    def codes(self) -> list[str]:
        return [s.definition.code for s in self.services]

    @property
    def choices(self) -> list[ServiceChoice]:
        return [ServiceChoice(s.definition.code, s.edition, s.quantity) for s in self.services]

    @property
    def site(self) -> SiteChoice | None:
        if self.site_name and self.time_zone:
            return SiteChoice(self.site_name, self.time_zone)
        return None


def validate_customer(
    catalog: Catalog, policy: Policy, c: NewCustomer, errors: ErrorCollector
) -> CustomerFields | None:
    """Rule C1 field by field; rule C2 derives the region."""
    name = email = ""
    try:
        name = clean_company_name(c.company_name, policy)
    except ValueError as error:
        errors.add("customer.company_name", str(error), "C1")
    if not c.admin_email.strip():  # not the syntax checker's "must have an @-sign"
        errors.add("customer.admin_email", "The administrator email is required.", "C1")
    else:
        try:
            email = normalize_email(c.admin_email)
        except ValueError as error:
            errors.add("customer.admin_email", f"Enter a valid email address: {error}", "C1")
    if c.business_vertical not in catalog.verticals:
        errors.add(
            "customer.business_vertical",
            "Choose a business vertical from the list; if the exact one is missing, "
            "pick the next best option.",
            "C1",
        )
    country = c.country.strip().upper()
    known = catalog.countries.get(country)
    if known is None:
        errors.add("customer.country", "Choose a country from the list (ISO 3166-1 alpha-2).", "C1")
    elif not known.supported:
        errors.add(
            "customer.country",
            f"Webex services are not available in {known.name}; trials cannot be started there.",
            "C1",
        )
    if not c.supported_location_ack:
        errors.add(
            "customer.supported_location_ack",
            "Acknowledge that the customer is in a supported location for Webex services.",
            "C1",
        )
    # the customer step comes first in the form, so its problems are listed first
    errors.errors.sort(key=lambda e: not e.field.startswith("customer"))
    if errors.errors or known is None:
        return None
    return CustomerFields(name, email, c.business_vertical, country, known.region)


def validate_services(
    catalog: Catalog,
    policy: Policy,
    cmd: StartTrial,
    errors: ErrorCollector,
    *,
    require_services: bool = True,
    services_field: str = "services",
) -> ServiceFields:
    """Rules S1 (catalog, license counts), S2 (site and time zone) and T1 (duration)."""
    out = ServiceFields()
    # rule T1: only an absent duration means the default; 0 is a wrong answer, not "none"
    duration = (
        catalog.default_trial_duration_days if cmd.duration_days is None else cmd.duration_days
    )
    if duration not in catalog.trial_durations_days:
        choices = ", ".join(str(d) for d in catalog.trial_durations_days)
        errors.add("duration_days", f"Choose a trial duration of {choices} days.", "T1")
    out.duration_days = duration
    if require_services and not cmd.services:
        errors.add(services_field, "Choose at least one service to trial.", "S1")
    seen: set[str] = set()
    needs_site = False
    for i, choice in enumerate(cmd.services):
        chosen = _validate_choice(catalog, choice, f"{services_field}[{i}]", seen, errors)
        if chosen is not None:
            edition = chosen.definition.edition(chosen.edition or "")
            needs_site = needs_site or (edition is not None and edition.requires_site)
            out.services.append(chosen)
    _share_user_licenses(cmd, errors, out)
    _validate_site(catalog, policy, cmd, errors, out, needs_site)
    return out


def _validate_choice(
    catalog: Catalog, choice: ServiceChoiceIn, where: str, seen: set[str], errors: ErrorCollector
) -> ChosenService | None:
    """Rule S1 for one chosen service (S2 for its edition); None when it cannot be used."""
    definition = catalog.services.get(choice.code)
    if definition is None:
        errors.add(f"{where}.code", f"Unknown service {choice.code!r}.", "S1")
        return None
    if choice.code in seen:
        errors.add(f"{where}.code", f"{definition.name} is listed twice.", "S1")
        return None
    seen.add(choice.code)
    edition = None
    if definition.editions:
        edition = choice.edition or definition.default_edition
        if definition.edition(edition or "") is None:
            names = ", ".join(e.code for e in definition.editions)
            errors.add(f"{where}.edition", f"Choose an edition: {names}.", "S2")
            return None
    elif choice.edition is not None:
        errors.add(f"{where}.edition", f"{definition.name} has no editions.", "S1")
    quantity = 0
    if definition.license_kind == "device":
        quantity = choice.quantity or 0
        if not definition.min_quantity <= quantity <= definition.max_quantity:
            errors.add(
                f"{where}.quantity",
                f"{definition.name} needs {definition.min_quantity} to "
                f"{definition.max_quantity} licenses.",
                "S1",
            )
    elif choice.quantity is not None:
        errors.add(
            f"{where}.quantity",
            "User services share the trial's user_licenses; give no quantity here.",
            "S1",
        )
    return ChosenService(definition, edition, quantity)


def _share_user_licenses(cmd: StartTrial, errors: ErrorCollector, out: ServiceFields) -> None:
    """Rule S1: user services share one user-license count within the catalog's limits."""
    user_services = [s for s in out.services if s.definition.license_kind == "user"]
    if user_services:
        limits = user_services[0].definition
        licenses = cmd.user_licenses
        if licenses is None or not limits.min_quantity <= licenses <= limits.max_quantity:
            errors.add(
                "user_licenses",
                f"User services need {limits.min_quantity} to {limits.max_quantity} user licenses.",
                "S1",
            )
        else:
            out.user_licenses = licenses
            out.services = [
                ChosenService(s.definition, s.edition, licenses)
                if s.definition.license_kind == "user"
                else s
                for s in out.services
            ]
    elif cmd.user_licenses is not None and cmd.services:
        errors.add("user_licenses", "No user service was chosen, so give no user licenses.", "S1")


def _validate_site(
    catalog: Catalog,
    policy: Policy,
    cmd: StartTrial,
    errors: ErrorCollector,
    out: ServiceFields,
    needs_site: bool,
) -> None:
    """Rule S2: Meetings Enterprise Edition needs a site URL and an IANA time zone."""
    if not needs_site:
        if cmd.meetings is not None:
            errors.add("meetings", "Only Meetings Enterprise Edition takes a site URL.", "S2")
        return
    if cmd.meetings is None:
        errors.add(
            "meetings.site_url",
            f"Meetings Enterprise Edition needs a site URL (<name>.{policy.site_domain}).",
            "S2",
        )
        errors.add("meetings.time_zone", "Meetings Enterprise Edition needs a time zone.", "S2")
        return
    try:
        out.site_name = parse_site_name(cmd.meetings.site_url, policy)
    except ValueError as error:
        errors.add("meetings.site_url", str(error), "S2")
    if cmd.meetings.time_zone not in catalog.time_zones:
        errors.add(
            "meetings.time_zone",
            "Choose a time zone from the list (an IANA name such as Europe/Paris).",
            "S2",
        )
    else:
        out.time_zone = cmd.meetings.time_zone
