"""A refused form shown again: each error next to its field, in the rule's words (rule E3).

The services raise `TrialhubError`s whose `errors` name the field (`address.city`,
`devices[0].quantity`); a page names its inputs by the last part, so the error finds them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from trialhub.domain.errors import Conflict, InvalidTransition, TrialhubError, ValidationFailed
from trialhub.services.kernel import invalid_input

T = TypeVar("T")

# what a form shows again with the error next to its field; the others (forbidden, not
# found, not certified) are the error page with their status, and nothing changed
REFUSED_INPUT = (ValidationFailed, Conflict, InvalidTransition)
# the form-wide error, shown above the form
FORM = "form"
_INDEX = re.compile(r"\[\d+\]")


def field_errors(error: TrialhubError) -> dict[str, str]:
    """Field name -> the message with its rule; one without a field goes to FORM."""
    found: dict[str, str] = {}
    for item in error.errors or []:
        name = _input_name(item.field)
        said = f"{item.message} (rule {item.rule})" if item.rule else item.message
        found[name] = f"{found[name]} {said}" if name in found else said
    if not found:
        found[FORM] = f"{error.message} (rule {error.rule})" if error.rule else error.message
    return found


def _input_name(path: str | None) -> str:
    """`address.city` -> `city`; `devices[0].quantity` -> `devices`; `roles[1]` -> `roles`."""
    if not path or path == "body":
        return FORM
    head = path.split(".")[0]
    if _INDEX.search(head):
        return _INDEX.sub("", head)
    return path.split(".")[-1]


def command(build: Callable[[], T]) -> T:
    """Builds a command from form input; what Pydantic refuses becomes the API's rule error."""
    try:
        return build()
    except ValidationError as error:
        raise invalid_input(error) from error
