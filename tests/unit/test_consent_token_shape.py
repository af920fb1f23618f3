"""A consent link's token is a URL path segment and a CLI argument (`trialhub consent accept
TOKEN`, rule K2): it never starts with "-", which a shell command would read as an option."""

from __future__ import annotations

import pytest

from trialhub.services.kernel import security


def test_a_token_whose_random_part_starts_with_a_dash_still_reads_as_an_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(security.secrets, "token_urlsafe", lambda n: "-" + "a" * (n + 10))
    token = security.new_consent_token()
    assert not token.startswith("-")
    assert token.startswith(security.CONSENT_PREFIX)


def test_tokens_are_long_random_and_url_safe() -> None:
    tokens = {security.new_consent_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(token) >= 40
        assert all(c.isalnum() or c in "-_" for c in token)
        assert not token.startswith("-")
