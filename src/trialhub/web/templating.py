"""The pages' Jinja2 environment (templates from the package, autoescaped)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("trialhub.web", "templates"), autoescape=select_autoescape()
    )
