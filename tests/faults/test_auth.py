"""Login and host checks (issue 11, finding 2): a server open beyond loopback without a login
refuses to serve, foreign host names are refused, passwords are checked against an argon2 hash
with failed attempts limited."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core import auth
from core.config import REPO_ROOT, get_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def password_login(monkeypatch):
    monkeypatch.setenv("OPTLAB_PASSWORD_HASH", auth.hash_password(PASSWORD))
    monkeypatch.setattr(auth, "_failures", {})


def test_a_server_beyond_loopback_without_login_refuses_to_serve(monkeypatch):
    monkeypatch.delenv("OPTLAB_PASSWORD_HASH", raising=False)
    monkeypatch.delenv("OPTLAB_AUTH", raising=False)
    assert auth.refusal(server_address="127.0.0.1", host_header="localhost:8501") is None
    reason = auth.refusal(server_address="0.0.0.0", host_header="10.0.0.5:8501")
    assert reason and "without a login" in reason and "hash-password" in reason


def test_foreign_host_names_are_refused_and_ip_literals_and_configured_names_pass(password_login, monkeypatch):
    assert auth.refusal(server_address="0.0.0.0", host_header="10.0.0.5:8501") is None
    assert auth.refusal(server_address="0.0.0.0", host_header="[::1]:8501") is None
    reason = auth.refusal(server_address="0.0.0.0", host_header="rebind.attacker.example:8501")
    assert reason and "'rebind.attacker.example'" in reason and "OPTLAB_ALLOWED_HOSTS" in reason
    monkeypatch.setenv("OPTLAB_ALLOWED_HOSTS", "lab.team.example, other.example")
    assert auth.refusal(server_address="0.0.0.0", host_header="LAB.team.example:8501") is None


def test_the_password_is_checked_and_guessing_is_slowed_down(password_login):
    assert auth.check_password(PASSWORD, client="a").ok
    for _ in range(auth.MAX_FAILURES):
        assert auth.check_password("guess", client="b").message == "Wrong password."
    locked = auth.check_password(PASSWORD, client="b")
    assert not locked.ok and "Too many failed attempts" in locked.message, "even the right password waits"
    assert auth.check_password(PASSWORD, client="a").ok, "another client is not locked out"


def test_hash_password_prints_a_hash_that_the_login_accepts(monkeypatch):
    result = subprocess.run([sys.executable, "-m", "core", "hash-password"], cwd=REPO_ROOT, input=PASSWORD + "\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    monkeypatch.setenv("OPTLAB_PASSWORD_HASH", result.stdout.strip())
    monkeypatch.setattr(auth, "_failures", {})
    assert get_settings().auth_mode == "password"
    assert auth.check_password(PASSWORD).ok and not auth.check_password(PASSWORD.upper()).ok
