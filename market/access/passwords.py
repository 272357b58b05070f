"""Password hashing with Argon2id (memory-hard), via argon2-cffi."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


#: A valid hash of a random secret: verified against when the login is unknown, so a wrong
#: login takes as long as a wrong password.
@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return hash_password("no such member: constant-time dummy")
