"""Loads the catalog's data files and joins them with ISO countries (pycountry) and IANA zones."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pycountry

# IANA areas of canonical zone names; legacy aliases (US/…, Etc/…) are left out
_ZONE_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


@dataclass(frozen=True)
class Edition:
    code: str
    name: str
    requires_site: bool


@dataclass(frozen=True)
class ServiceDef:
    code: str
    name: str
    license_kind: str  # "user" shares the trial's user-license count; "device" has its own
    min_quantity: int
    max_quantity: int
    editions: tuple[Edition, ...] = ()
    default_edition: str | None = None
    group: str | None = None
    offers_devices: bool = False
    keeps_numbers: bool = False

    def edition(self, code: str) -> Edition | None:
        return next((e for e in self.editions if e.code == code), None)


@dataclass(frozen=True)
class Region:
    code: str
    name: str


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    region: str
    supported: bool


@dataclass(frozen=True)
class Vertical:
    code: str
    name: str


@dataclass(frozen=True)
class DeviceType:
    code: str
    name: str
    note: str | None = None


@dataclass(frozen=True)
class DeviceModel:
    code: str
    name: str
    type: str
    ships_to: tuple[str, ...]

    def ships_to_country(self, country: str) -> bool:
        return "*" in self.ships_to or country in self.ships_to


@dataclass(frozen=True)
class Catalog:
    services: dict[str, ServiceDef]
    trial_durations_days: tuple[int, ...]
    default_trial_duration_days: int
    verticals: dict[str, Vertical]
    regions: dict[str, Region]
    countries: dict[str, Country]
    time_zones: frozenset[str]
    device_types: dict[str, DeviceType]
    device_models: dict[str, DeviceModel]

    def region_of(self, country: str) -> Region:
        return self.regions[self.countries[country].region]

    # the service-type questions, answered here once for any set of service codes

    def keeps_numbers(self, codes: Iterable[str]) -> bool:
        """Rules T8, T9: one of the services keeps its phone numbers a while (Webex Calling)."""
        return any(d.keeps_numbers for d in self._defined(codes))

    def has_device_service(self, codes: Iterable[str]) -> bool:
        """Rules T3, D5, D6: one of the services has device licenses, extended on request."""
        return any(d.license_kind == "device" for d in self._defined(codes))

    def offers_devices(self, codes: Iterable[str]) -> bool:
        """Rule D1: one of the services offers the device step (Calling, device services)."""
        return any(d.offers_devices for d in self._defined(codes))

    def has_user_service(self, codes: Iterable[str]) -> bool:
        """Rule S1: one of the services shares the trial's user-license count."""
        return any(d.license_kind == "user" for d in self._defined(codes))

    def has_site_service(self, codes: Iterable[str]) -> bool:
        """Rule S2: one of the services has an edition that holds a site (Meetings)."""
        return any(e.requires_site for d in self._defined(codes) for e in d.editions)

    def _defined(self, codes: Iterable[str]) -> list[ServiceDef]:
        return [d for c in codes if (d := self.services.get(c)) is not None]


def _read(name: str) -> dict[str, Any]:
    text = resources.files("trialhub.catalog").joinpath("data", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _services(data: dict[str, Any]) -> dict[str, ServiceDef]:
    limits = data["license_limits"]
    out: dict[str, ServiceDef] = {}
    for s in data["services"]:
        kind = s["license_kind"]
        editions = tuple(
            Edition(e["code"], e["name"], bool(e["requires_site"])) for e in s.get("editions", [])
        )
        out[s["code"]] = ServiceDef(
            code=s["code"],
            name=s["name"],
            license_kind=kind,
            min_quantity=int(limits[kind]["min"]),
            max_quantity=int(limits[kind]["max"]),
            editions=editions,
            default_edition=s.get("default_edition"),
            group=s.get("group"),
            offers_devices=bool(s.get("offers_devices", False)),
            keeps_numbers=bool(s.get("keeps_numbers", False)),
        )
    return out


def _countries(data: dict[str, Any]) -> tuple[dict[str, Region], dict[str, Country]]:
    regions = {r["code"]: Region(r["code"], r["name"]) for r in data["regions"]}
    region_of = {c: r["code"] for r in data["regions"] for c in r["countries"]}
    unsupported = set(data["unsupported_countries"])
    countries: dict[str, Country] = {}
    for c in pycountry.countries:
        code = str(c.alpha_2)
        name = str(getattr(c, "common_name", None) or c.name)
        countries[code] = Country(
            code=code,
            name=name,
            region=region_of.get(code, data["default_region"]),
            supported=code not in unsupported,
        )
    unknown = (set(region_of) | unsupported) - set(countries)
    if unknown:
        raise ValueError(f"regions.json names unknown country codes: {sorted(unknown)}")
    return regions, countries


def _time_zones() -> frozenset[str]:
    zones = {z for z in zoneinfo.available_timezones() if z.startswith(_ZONE_AREAS)}
    zones.add("UTC")
    return frozenset(zones)


def load_catalog() -> Catalog:
    """Read every data file; fails loudly on an inconsistent file."""
    services = _read("services.json")
    verticals = _read("verticals.json")
    regions, countries = _countries(_read("regions.json"))
    devices = _read("devices.json")
    durations = tuple(int(d) for d in services["trial_durations_days"])
    default_duration = int(services["default_trial_duration_days"])
    if default_duration not in durations:
        raise ValueError("the default trial duration must be one of the durations")
    return Catalog(
        services=_services(services),
        trial_durations_days=durations,
        default_trial_duration_days=default_duration,
        verticals={v["code"]: Vertical(v["code"], v["name"]) for v in verticals["verticals"]},
        regions=regions,
        countries=dict(sorted(countries.items(), key=lambda kv: kv[1].name)),
        time_zones=_time_zones(),
        device_types={
            t["code"]: DeviceType(t["code"], t["name"], t.get("note"))
            for t in devices["device_types"]
        },
        device_models={
            m["code"]: DeviceModel(m["code"], m["name"], m["type"], tuple(m["ships_to"]))
            for m in devices["models"]
        },
    )


@cache
def get_catalog() -> Catalog:
    """The catalog, read once per process on first use (never at import time)."""
    return load_catalog()
