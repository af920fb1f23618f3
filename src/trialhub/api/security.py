"""Secrets in URLs: the consent links carry a token that accepts a trial for whoever holds it,
so their paths are kept out of the access log."""

from __future__ import annotations

import logging
import re

# /consent/<token> (the page) and /v1/consent/<token> (the API): rule K2's single-use token
_TOKEN_IN_PATH = re.compile(r"(/consent/)[^/?\s\"]+")


def redact_path(path: str) -> str:
    """The path with the consent token replaced, for logs."""
    return _TOKEN_IN_PATH.sub(r"\1***", path)


class RedactTokens(logging.Filter):
    """uvicorn's access log records carry the path as an argument: replace the token there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log() -> None:
    """Installs the filter on uvicorn's access logger; call after uvicorn set up logging."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
