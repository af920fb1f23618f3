"""Builds the views the interfaces render from loaded entities (inside the unit of work)."""

from __future__ import annotations

from trialhub.catalog import Catalog
from trialhub.services.kernel.schemas import RegionView


def region_view(catalog: Catalog, code: str) -> RegionView:
    region = catalog.regions[code]
    return RegionView(code=region.code, name=region.name)


def service_name(catalog: Catalog, code: str) -> str:
    s = catalog.services.get(code)
    return s.name if s else code
