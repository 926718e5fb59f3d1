"""Password hashing with argon2id (argon2-cffi defaults), and generated passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["generate_password", "hash_password", "needs_rehash", "verify_password"]

_hasher = PasswordHasher()  # parameters only; holds no resources


def hash_password(password: str) -> str:
    """An argon2id hash of the password, with its own random salt and parameters encoded."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the hash; False for a mismatch or a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password (about 144 bits) for accounts created by the system."""
    return secrets.token_urlsafe(18)
