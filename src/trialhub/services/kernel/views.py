"""Builds the views the interfaces render from loaded entities (inside the unit of work)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from trialhub.catalog import Catalog
from trialhub.services.kernel.schemas import RegionView

V = TypeVar("V", bound=BaseModel)


def view_of(view: type[V], entity: object, **given: Any) -> V:
    """The one view builder: each field of `view` read from the entity's attribute of the
    same name, except those `given` (computed, renamed, or kept back like a secret)."""
    read = {name: getattr(entity, name) for name in view.model_fields if name not in given}
    return view.model_validate({**read, **given})


def region_view(catalog: Catalog, code: str) -> RegionView:
    region = catalog.regions[code]
    return RegionView(code=region.code, name=region.name)


def service_name(catalog: Catalog, code: str) -> str:
    s = catalog.services.get(code)
    return s.name if s else code
