from __future__ import annotations

import hashlib

from deshi.auth.passwords import generate_password, hash_password, needs_rehash, verify_password
from deshi.auth.tokens import PREFIX_LENGTH, TOKEN_MARK, generate_token, hash_token


def test_password_hash_is_argon2id_and_verifies() -> None:
    password_hash = hash_password("correct horse battery staple")
    assert password_hash.startswith("$argon2id$")
    assert "correct horse" not in password_hash
    assert verify_password(password_hash, "correct horse battery staple")
    assert not verify_password(password_hash, "correct horse battery stapler")
    assert not needs_rehash(password_hash)


def test_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same password!") != hash_password("same password!")


def test_malformed_hash_does_not_verify() -> None:
    assert not verify_password("not-a-hash", "anything")


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
