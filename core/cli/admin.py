"""Commands that set the lab up: hash-password (for the login)."""

from __future__ import annotations

import getpass
import sys

from core import auth


def register(sub) -> dict:
    sub.add_parser("hash-password", help="print the argon2 hash of a password for OPTLAB_PASSWORD_HASH "
                                         "(reads it from the terminal, or one line of stdin)")
    return {"hash-password": hash_password}


def hash_password(args) -> int:
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    print(auth.hash_password(password))
    return 0
