"""Who may use the lab, checked by the app before any page runs.

- A server that listens beyond loopback refuses to serve until a login is configured.
- Requests must name an allowed host (DNS rebinding: a page of another site that resolves its own
  name to this server is refused by its Host header).
- The password login checks an argon2 hash (argon2-cffi, constant-time verify) and slows down
  guessing: after MAX_FAILURES failed attempts from one client within WINDOW_SECONDS, that client
  waits LOCK_SECONDS. Teams with an identity provider use Streamlit's own OIDC login instead.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass

from core.config import Settings, get_settings
from core.errors import AppError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_FAILURES = 5
WINDOW_SECONDS = 60.0
LOCK_SECONDS = 30.0
_failures: dict[str, list[float]] = {}
_failures_lock = threading.Lock()


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    message: str = ""


def hash_password(password: str) -> str:
    """The argon2id hash to put in OPTLAB_PASSWORD_HASH (or the file OPTLAB_PASSWORD_HASH_FILE)."""
    from argon2 import PasswordHasher

    if len(password) < 8:
        raise AppError("Choose a password of at least 8 characters.")
    return PasswordHasher().hash(password)


def _hostname(host_header: str) -> str:
    """'Example.org:8501' -> 'example.org'; '[::1]:8501' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def allowed_host(host_header: str, settings: Settings | None = None) -> bool:
    """Whether a request's Host names this server: loopback, an IP literal, this machine's names, or
    OPTLAB_ALLOWED_HOSTS. A request without a Host header (no browser involved) passes."""
    if not host_header:
        return True
    host = _hostname(host_header)
    names = LOOPBACK | {socket.gethostname().lower(), socket.getfqdn().lower()}
    return host in names or _is_ip(host) or host in (settings or get_settings()).allowed_hosts


def refusal(*, server_address: str, host_header: str, settings: Settings | None = None) -> str | None:
    """Why the app must not serve this request, or None. The message says how to fix it."""
    settings = settings or get_settings()
    if (server_address or "0.0.0.0") not in LOOPBACK and settings.auth_mode == "none":
        return (f"The lab listens on {server_address or 'all addresses'}, beyond this machine, without a login, so "
                "it refuses to serve. Set OPTLAB_PASSWORD_HASH (make one with `python -m core hash-password`) "
                "or OPTLAB_AUTH=oidc with an [auth] section in .streamlit/secrets.toml, or listen on "
                "127.0.0.1 only.")
    if settings.auth_mode not in ("none", "password", "oidc"):
        return f"OPTLAB_AUTH is '{settings.auth_mode}'; use password, oidc or none."
    if settings.auth_mode == "password" and not settings.password_hash:
        return ("OPTLAB_AUTH=password needs OPTLAB_PASSWORD_HASH (or OPTLAB_PASSWORD_HASH_FILE); make a hash "
                "with `python -m core hash-password`.")
    if not allowed_host(host_header, settings):
        return (f"This server does not answer to the host name '{_hostname(host_header)}'. If that is really "
                "its name, add it to OPTLAB_ALLOWED_HOSTS (comma-separated) and restart the lab.")
    return None


def check_password(password: str, *, client: str = "") -> LoginResult:
    """Verifies password against the configured hash, limiting failed attempts per client."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    now = time.monotonic()
    with _failures_lock:
        recent = [t for t in _failures.get(client, []) if now - t < WINDOW_SECONDS + LOCK_SECONDS]
        _failures[client] = recent
        if len(recent) >= MAX_FAILURES and now - recent[-1] < LOCK_SECONDS:
            wait = LOCK_SECONDS - (now - recent[-1])
            return LoginResult(False, f"Too many failed attempts; wait {wait:.0f} s and try again.")
    settings = get_settings()
    try:
        PasswordHasher().verify(settings.password_hash or "", password)
    except InvalidHashError:
        return LoginResult(False, "OPTLAB_PASSWORD_HASH is not an argon2 hash; make one with "
                                  "`python -m core hash-password` and restart the lab.")
    except VerificationError:
        with _failures_lock:
            _failures.setdefault(client, []).append(time.monotonic())
        return LoginResult(False, "Wrong password.")
    with _failures_lock:
        _failures.pop(client, None)
    return LoginResult(True)
