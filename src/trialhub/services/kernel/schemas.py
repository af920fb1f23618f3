"""Commands the use cases accept and views they return (Pydantic; shared by API, web, CLI)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from trialhub.services.kernel.fields import Text


class Command(BaseModel):
    """Input: unknown fields are an error, so a typo never passes silently.

    Each field that a rule governs says so (`Annotated[..., Rule("S1")]`); `rule` is the
    rule of the command's other fields, E3 when None (services.fields reads both).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    rule: ClassVar[str | None] = None


class Decision(Command):
    """Someone who decides a request approves or declines it, with an optional note."""

    approve: bool
    note: Text | None = Field(default=None, max_length=500)


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RegionView(View):
    code: str
    name: str
