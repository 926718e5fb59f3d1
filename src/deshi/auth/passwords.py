"""Password hashing with argon2id, and generated passwords.

The cost of a hash is configuration (`DESHI_PASSWORD_HASH_PROFILE`): the web app and `deshi init`
build a `PasswordHasher` from their settings and pass it to the auth service, whose default is
`STANDARD_HASHER`. Every hash encodes its own parameters, so any hasher verifies hashes made
under any profile.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from types import MappingProxyType

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from deshi.settings import PasswordHashProfile

__all__ = ["PROFILES", "STANDARD_HASHER", "PasswordHasher", "generate_password"]

PROFILES = MappingProxyType(
    {
        # RFC 9106's second recommendation (t=3, 64 MiB, 4 lanes): argon2-cffi's default.
        "standard": RFC_9106_LOW_MEMORY,
        # t=1, 1 MiB, 1 lane: about a hundredth of the time; for test suites only.
        "fast-insecure": replace(RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=1024, parallelism=1),
    }
)


class PasswordHasher:
    """argon2id with the parameters of one profile; holds no resources, safe to share."""

    __slots__ = ("_argon2", "profile")

    def __init__(self, profile: PasswordHashProfile = "standard") -> None:
        self.profile = profile
        self._argon2 = _Argon2.from_parameters(PROFILES[profile])

    def hash(self, password: str) -> str:
        """An argon2id hash of the password, with its own random salt and parameters encoded."""
        return self._argon2.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True when the password matches the hash; False for a mismatch or a malformed hash."""
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than this hasher's."""
        return self._argon2.check_needs_rehash(password_hash)


STANDARD_HASHER = PasswordHasher("standard")


def generate_password() -> str:
    """A random password (about 144 bits) for accounts created by the system."""
    return secrets.token_urlsafe(18)
