"""The catalog as the API and the portal show it (GET /v1/catalog)."""

from __future__ import annotations

from pydantic import BaseModel

from trialhub.services.kernel.context import Context


class EditionOut(BaseModel):
    code: str
    name: str
    requires_site: bool


class ServiceOut(BaseModel):
    code: str
    name: str
    license_kind: str
    min_quantity: int
    max_quantity: int
    editions: list[EditionOut]
    default_edition: str | None
    group: str | None
    offers_devices: bool


class CountryOut(BaseModel):
    code: str
    name: str
    region: str
    supported: bool


class NamedOut(BaseModel):
    code: str
    name: str


class DeviceModelOut(BaseModel):
    code: str
    name: str
    type: str
    ships_to: list[str]


class CatalogOut(BaseModel):
    services: list[ServiceOut]
    trial_durations_days: list[int]
    default_trial_duration_days: int
    business_verticals: list[NamedOut]
    regions: list[NamedOut]
    countries: list[CountryOut]
    time_zones: list[str]
    device_types: list[NamedOut]
    device_models: list[DeviceModelOut]


def catalog_view(ctx: Context) -> CatalogOut:
    c = ctx.catalog
    return CatalogOut(
        services=[
            ServiceOut(
                code=s.code,
                name=s.name,
                license_kind=s.license_kind,
                min_quantity=s.min_quantity,
                max_quantity=s.max_quantity,
                editions=[
                    EditionOut(code=e.code, name=e.name, requires_site=e.requires_site)
                    for e in s.editions
                ],
                default_edition=s.default_edition,
                group=s.group,
                offers_devices=s.offers_devices,
            )
            for s in c.services.values()
        ],
        trial_durations_days=list(c.trial_durations_days),
        default_trial_duration_days=c.default_trial_duration_days,
        business_verticals=[NamedOut(code=v.code, name=v.name) for v in c.verticals.values()],
        regions=[NamedOut(code=r.code, name=r.name) for r in c.regions.values()],
        countries=[
            CountryOut(code=k.code, name=k.name, region=k.region, supported=k.supported)
            for k in c.countries.values()
        ],
        time_zones=sorted(c.time_zones),
        device_types=[NamedOut(code=t.code, name=t.name) for t in c.device_types.values()],
        device_models=[
            DeviceModelOut(code=m.code, name=m.name, type=m.type, ships_to=list(m.ships_to))
            for m in c.device_models.values()
        ],
    )
