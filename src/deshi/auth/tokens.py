"""API tokens: random bearer secrets shown once; only their sha256 and a short prefix are stored.

The token has 256 bits of entropy, so a fast hash is enough (no brute force is possible) and
looking it up by its hash through a unique index leaks nothing useful through timing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

__all__ = ["PREFIX_LENGTH", "TOKEN_MARK", "NewToken", "generate_token", "hash_token"]

TOKEN_MARK = "dsh_"  # makes leaked tokens recognisable to secret scanners
PREFIX_LENGTH = 12  # TOKEN_MARK + 8 random characters, shown in token listings


@dataclass(frozen=True, slots=True)
class NewToken:
    """A freshly generated token: `plaintext` is shown to the user once and never stored."""

    plaintext: str
    prefix: str
    token_hash: str


def hash_token(plaintext: str) -> str:
    """Hex sha256 of the token, as stored in api_tokens.token_hash."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def generate_token() -> NewToken:
    """A new random token with its identifying prefix and stored hash."""
    plaintext = TOKEN_MARK + secrets.token_urlsafe(32)
    return NewToken(plaintext, plaintext[:PREFIX_LENGTH], hash_token(plaintext))
