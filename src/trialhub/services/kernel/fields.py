"""Building blocks of command fields: the rule each field enforces, text without control
characters, and a readable message with its rule for whatever Pydantic refuses (rule E3)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, get_args

import annotated_types
from pydantic import AfterValidator, BaseModel, GetJsonSchemaHandler, ValidationError
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import ErrorDetails, PydanticCustomError, core_schema

from trialhub.domain.errors import FALLBACK_RULE, FieldError, ValidationFailed


@dataclass(frozen=True)
class Rule:
    """Marks a field with the rule it enforces (`Annotated[int, Rule("D1")]`); `unit` names
    what its number counts, for messages such as "Give 1 to 5 devices of a model".

    The error handlers read it from the field, so a new field carries its rule where it is
    declared; the OpenAPI schema shows it as `x-rule`.
    """

    code: str
    unit: str | None = None

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["x-rule"] = self.code
        return out


# bidirectional embeddings, overrides and isolates reorder what a reader sees ("Trojan
# Source"); the plain marks (U+200E, U+200F) that right-to-left names need stay allowed
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# control characters, lone surrogates, and the line and paragraph separators
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _first_refused(value: str, allowed: str = "") -> str | None:
    for ch in value:
        if ch in allowed:
            continue
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return ch
    return None


def _one_line(value: str) -> str:
    bad = _first_refused(value)
    if bad is not None:
        raise PydanticCustomError(
            "control_character",
            "Use plain text on one line: U+{code} (a control or layout character) is not "
            "allowed here.",
            {"code": f"{ord(bad):04X}"},
        )
    return value


def _lines(value: str) -> str:
    value = value.replace("\r\n", "\n")  # a pasted Windows line break is still a line break
    bad = _first_refused(value, allowed="\n")
    if bad is not None:
        raise PydanticCustomError(
            "control_character",
            "Use plain text: line breaks are fine, but U+{code} (a control or layout "
            "character) is not.",
            {"code": f"{ord(bad):04X}"},
        )
    return value


# names, labels, addresses, serial numbers: one line, shown in lists, emails and terminals
Name = Annotated[str, AfterValidator(_one_line)]


# reasons and notes: line breaks allowed, other control characters not
Text = Annotated[str, AfterValidator(_lines)]


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X`, `X | None`, `list[X]` or `Annotated[X, ...]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = model_in(arg)
        if found is not None:
            return found
    return None


def _marker(info: FieldInfo | None) -> Rule | None:
    found = [m for m in info.metadata if isinstance(m, Rule)] if info is not None else []
    return found[-1] if found else None  # the outermost declaration wins


def locate(model: type[BaseModel] | None, loc: Sequence[str | int]) -> tuple[str, FieldInfo | None]:
    """The rule governing the field at `loc` and the field's declaration: the field's own
    Rule, else the nearest enclosing command's `rule`, else E3."""
    rule: str = getattr(model, "rule", None) or FALLBACK_RULE
    info: FieldInfo | None = None
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # a list index: the items are of the type already in hand
        cls = model_in(current)
        if cls is None:
            break
        rule = getattr(cls, "rule", None) or rule
        info = cls.model_fields.get(part)
        if info is None:
            break  # an unknown field: the command's rule
        marker = _marker(info)
        rule = marker.code if marker else rule
        current = info.annotation
    if loc and isinstance(loc[-1], int):
        info = None  # an item of a list: the field's bounds count the list, not the item
    return rule, info


def field_path(loc: Sequence[str | int]) -> str:
    """`("services", 0, "code")` -> `services[0].code`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _bounds(info: FieldInfo | None) -> tuple[Any, Any]:
    low: Any = None
    high: Any = None
    for m in info.metadata if info is not None else []:
        if isinstance(m, annotated_types.Ge | annotated_types.MinLen):
            low = m.ge if isinstance(m, annotated_types.Ge) else m.min_length
        elif isinstance(m, annotated_types.Gt):
            low = m.gt + 1 if isinstance(m.gt, int) else m.gt
        elif isinstance(m, annotated_types.Le | annotated_types.MaxLen):
            high = m.le if isinstance(m, annotated_types.Le) else m.max_length
        elif isinstance(m, annotated_types.Lt):
            high = m.lt - 1 if isinstance(m.lt, int) else m.lt
    return low, high


def _span(info: FieldInfo | None, unit: str) -> str | None:
    """ "1 to 5 devices of a model", from the field's own bounds; None when it has none."""
    low, high = _bounds(info)
    if low is not None and high is not None:
        return f"{low} to {high} {unit}"
    if low is not None:
        return f"at least {low} {_per(low, unit)}"
    if high is not None:
        return f"at most {high} {_per(high, unit)}"
    return None


def _per(count: Any, unit: str) -> str:
    return unit.removesuffix("s") if count == 1 and unit in ("items", "characters") else unit


_NUMBER = ("int_", "float_", "greater_than", "less_than", "finite_number", "multiple_of")


_DATETIME = ("datetime_", "date_", "time_", "timezone_")


def message(error: ErrorDetails, info: FieldInfo | None) -> str:
    """What Pydantic found, said the way the rules say it (not "Input should be ...")."""
    kind, ctx = error["type"], error.get("ctx") or {}
    marker = _marker(info)
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "Unknown field: check its name against the API reference."
    if kind == "json_invalid":
        return "The body is not valid JSON."
    if kind.startswith(_NUMBER):
        unit = marker.unit if marker and marker.unit else None
        span = _span(info, unit or "")
        if unit:
            return f"Give {span}." if span else f"Give a whole number of {unit}."
        return f"Give a whole number, {span.strip()}." if span else "Give a whole number."
    if kind == "string_unicode":
        return "Give text in valid Unicode: this holds a lone surrogate code point."
    if kind in ("string_too_short", "string_too_long", "string_type"):
        span = _span(info, "characters")
        return f"Give text of {span}." if span else "Give text."
    if kind in ("too_short", "too_long", "list_type"):
        span = _span(info, "items")
        return f"Give a list of {span}." if span else "Give a list."
    if kind in ("bool_type", "bool_parsing"):
        return "Give true or false."
    if kind == "literal_error":
        return f"Give {ctx.get('expected', 'one of the listed values')}."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "Give an object with the fields this step takes."
    if kind.startswith(_DATETIME):
        return "Give a date and time in ISO 8601 with its time zone, such as 2026-06-01T09:00Z."
    return str(error["msg"])


def explain(
    model: type[BaseModel] | None,
    errors: Sequence[ErrorDetails],
    *,
    prefix: int = 0,
    fields: dict[str, FieldInfo] | None = None,
) -> list[FieldError]:
    """Each error with its field, a readable message and its rule. `prefix` leading parts of
    each location are dropped (FastAPI's "body"); `fields` are loose parameters (a query)."""
    out = []
    for e in errors:
        loc = tuple(e.get("loc", ()))[prefix:]
        if e["type"] == "json_invalid":
            loc = ()
        if model is None and fields is not None and loc:
            rule, info = FALLBACK_RULE, fields.get(str(loc[0]))
        else:
            rule, info = locate(model, loc)
        said = "Send the request's body as JSON." if not loc and e["type"] == "missing" else None
        out.append(FieldError(field_path(loc) or "body", said or message(e, info), rule))
    return out


def _commands() -> dict[str, type[BaseModel]]:
    from trialhub.services.kernel.schemas import Command

    found: dict[str, type[BaseModel]] = {}
    todo: list[type[BaseModel]] = [Command]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def invalid_input(error: ValidationError) -> ValidationFailed:
    """A command Pydantic refused (built by the CLI, say), as the rule error the API gives."""
    found = explain(_commands().get(error.title), error.errors())
    first = found[0]
    rule = next((f.rule for f in found if f.rule != FALLBACK_RULE), first.rule)
    summary = first.message if len(found) == 1 else f"{len(found)} fields are invalid"
    return ValidationFailed(summary, field=first.field, rule=rule, errors=found)
