"""Reference data as data files: services, editions, durations, devices, verticals, countries."""

from trialhub.catalog.loader import (
    Catalog,
    Country,
    DeviceModel,
    Edition,
    Region,
    ServiceDef,
    Vertical,
    get_catalog,
    load_catalog,
)

__all__ = [
    "Catalog",
    "Country",
    "DeviceModel",
    "Edition",
    "Region",
    "ServiceDef",
    "Vertical",
    "get_catalog",
    "load_catalog",
]
