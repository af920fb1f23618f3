"""The catalog as the API and the portal show it (GET /v1/catalog)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from trialhub.services.kernel.context import Context
from trialhub.services.kernel.schemas import View

# the catalog's entries are read by attribute (View: from_attributes), field for field
Out = TypeVar("Out", bound=View)


class EditionOut(View):
    code: str
    name: str
    requires_site: bool


class ServiceOut(View):
    code: str
    name: str
    license_kind: str
    min_quantity: int
    max_quantity: int
    editions: list[EditionOut]
    default_edition: str | None
    group: str | None
    offers_devices: bool


class CountryOut(View):
    code: str
    name: str
    region: str
    supported: bool


class NamedOut(View):
    code: str
    name: str


class DeviceModelOut(View):
    code: str
    name: str
    type: str
    ships_to: list[str]


class CatalogOut(View):
    services: list[ServiceOut]
    trial_durations_days: list[int]
    default_trial_duration_days: int
    business_verticals: list[NamedOut]
    regions: list[NamedOut]
    countries: list[CountryOut]
    time_zones: list[str]
    device_types: list[NamedOut]
    device_models: list[DeviceModelOut]


def _views(view: type[Out], entries: Mapping[str, object]) -> list[Out]:
    return [view.model_validate(entry) for entry in entries.values()]


def catalog_view(ctx: Context) -> CatalogOut:
    c = ctx.catalog
    return CatalogOut(
        services=_views(ServiceOut, c.services),
        trial_durations_days=list(c.trial_durations_days),
        default_trial_duration_days=c.default_trial_duration_days,
        business_verticals=_views(NamedOut, c.verticals),
        regions=_views(NamedOut, c.regions),
        countries=_views(CountryOut, c.countries),
        time_zones=sorted(c.time_zones),
        device_types=_views(NamedOut, c.device_types),
        device_models=_views(DeviceModelOut, c.device_models),
    )
