"""Secrets: API tokens (random, stored as SHA-256) and passwords (Argon2 via pwdlib)."""

from __future__ import annotations

import hashlib
import secrets

from pwdlib import PasswordHash

TOKEN_PREFIX = "th_"
# a consent link's token is a path segment and a CLI argument: a prefix keeps it from ever
# starting with "-" (which a shell command would read as an option)
CONSENT_PREFIX = "ck_"


_hasher = PasswordHash.recommended()


def new_token() -> str:
    """A bearer token with 256 bits of randomness."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_consent_token() -> str:
    """A consent link's single-use token (rule K2), 256 bits of randomness."""
    return CONSENT_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Tokens are high-entropy, so a fast hash is enough to make a stolen table useless."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """The portal's sign-in (Argon2, constant time)."""
    return _hasher.verify(password, password_hash)
