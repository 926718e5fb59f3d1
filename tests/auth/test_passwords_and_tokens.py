from __future__ import annotations

import hashlib
from typing import get_args

from deshi.auth.passwords import PROFILES, STANDARD_HASHER, PasswordHasher, generate_password
from deshi.auth.tokens import PREFIX_LENGTH, TOKEN_MARK, generate_token, hash_token
from deshi.settings import PasswordHashProfile, Settings

CHEAP = PasswordHasher("fast-insecure")


def test_password_hash_is_argon2id_and_verifies() -> None:
    password_hash = CHEAP.hash("correct horse battery staple")
    assert password_hash.startswith("$argon2id$")
    assert "correct horse" not in password_hash
    assert CHEAP.verify(password_hash, "correct horse battery staple")
    assert not CHEAP.verify(password_hash, "correct horse battery stapler")
    assert not CHEAP.needs_rehash(password_hash)


def test_the_default_cost_is_rfc_9106_low_memory() -> None:
    """3 passes over 64 MiB in 4 lanes, as argon2-cffi's default was before it was configurable."""
    assert Settings.model_fields["password_hash_profile"].default == "standard"
    password_hash = STANDARD_HASHER.hash("correct horse battery staple")
    assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert STANDARD_HASHER.verify(password_hash, "correct horse battery staple")


def test_any_profile_verifies_hashes_of_another_and_asks_to_strengthen_cheap_ones() -> None:
    cheap_hash = CHEAP.hash("same password!")
    assert cheap_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert STANDARD_HASHER.verify(cheap_hash, "same password!")
    assert STANDARD_HASHER.needs_rehash(cheap_hash)


def test_every_configurable_profile_has_parameters() -> None:
    assert set(get_args(PasswordHashProfile)) == set(PROFILES)


def test_same_password_hashes_differently_each_time() -> None:
    assert CHEAP.hash("same password!") != CHEAP.hash("same password!")


def test_malformed_hash_does_not_verify() -> None:
    assert not CHEAP.verify("not-a-hash", "anything")


def test_generated_passwords_are_long_and_distinct() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= 20 for p in passwords)


def test_token_is_random_prefixed_and_stored_as_sha256() -> None:
    token = generate_token()
    assert token.plaintext.startswith(TOKEN_MARK)
    assert len(token.plaintext) > 40
    assert token.prefix == token.plaintext[:PREFIX_LENGTH]
    assert token.token_hash == hashlib.sha256(token.plaintext.encode()).hexdigest()
    assert hash_token(token.plaintext) == token.token_hash
    assert generate_token().plaintext != token.plaintext
