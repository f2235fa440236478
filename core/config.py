"""The one place that reads environment variables.

Every setting has an embedded default so a fresh clone runs with SQLite, a local worker and the
bundled demo assets and nothing else to start.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"


@dataclass(frozen=True)
class Settings:
    """Runtime settings of one process.

    Attributes:
        data_dir: Root of everything the lab writes (uploads, IRs, exports, databases).
        database_url: SQLAlchemy URL of the results database.
        queue_url: Huey's broker: sqlite:///FILE (embedded; kept apart from the results database)
            or redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS) shared by workers elsewhere.
        queue_name: Name of the queue this worker consumes and jobs are routed to by default
            (a target: one per machine or device, e.g. "edge-box-1").
        max_upload_mb: Largest upload accepted, and the cap on unpacked archive content.
        heartbeat_seconds: How often a running job writes its heartbeat.
        stale_seconds: A RUNNING job whose heartbeat is older than this is INTERRUPTED.
        max_attempts: How many times an interrupted job is run before it is left FAILED.
        start_local_worker: Whether the app starts a worker on this machine (off when workers
            run elsewhere, e.g. on the target hardware with --queue).
        host: The name this machine announces its worker and measurements under (OPTLAB_HOST,
            default the host name).
        artifacts_url: Where models and datasets are shared between machines (OPTLAB_ARTIFACTS_URL:
            a folder, file://..., or s3://bucket/prefix); data_dir is then this process's cache of
            it. "" (default): the data dir is the only copy.
    """

    data_dir: Path
    database_url: str
    queue_url: str
    queue_name: str
    max_upload_mb: int
    heartbeat_seconds: float
    stale_seconds: float
    max_attempts: int
    start_local_worker: bool
    host: str = ""
    artifacts_url: str = ""
    # Server folder models may be imported from (too big for a browser upload); None = off.
    import_root: Path | None = None
    # How long a database call keeps retrying while the database is locked or unreachable.
    db_retry_seconds: float = 120.0
    # Login: 'password' (an argon2 hash in OPTLAB_PASSWORD_HASH or the file OPTLAB_PASSWORD_HASH_FILE),
    # 'oidc' (Streamlit's st.login with an [auth] section in .streamlit/secrets.toml) or 'none'.
    auth_mode: str = "none"
    password_hash: str | None = None
    # Host names the app answers besides loopback, this machine's names and IP literals.
    allowed_hosts: tuple[str, ...] = ()

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")  # user[:password]@ of a URL


def redact(text: str) -> str:
    """text with the credentials of any URL in it replaced, for messages and logs."""
    return _CREDENTIALS.sub("***@", text)


def secret(name: str) -> str | None:
    """A setting that may hold a credential: the variable itself, or the first line of the file the
    variable NAME_FILE names (a mounted secret); never read from rows or logged."""
    path = os.environ.get(f"{name}_FILE")
    if path and Path(path).is_file():
        return Path(path).read_text().strip() or None
    return os.environ.get(name) or None


def get_settings() -> Settings:
    """Reads the settings from OPTLAB_* environment variables, with embedded defaults."""
    data_dir = Path(os.environ.get("OPTLAB_DATA_DIR", REPO_ROOT / "data")).resolve()
    password_hash = secret("OPTLAB_PASSWORD_HASH")
    queue_file = Path(os.environ.get("OPTLAB_QUEUE_PATH", data_dir / "queue.db"))
    return Settings(
        data_dir=data_dir,
        database_url=secret("OPTLAB_DATABASE_URL") or f"sqlite:///{data_dir / 'lab.db'}",
        queue_url=secret("OPTLAB_QUEUE_URL") or f"sqlite:///{queue_file}",
        queue_name=os.environ.get("OPTLAB_QUEUE", "local"),
        max_upload_mb=int(os.environ.get("OPTLAB_MAX_UPLOAD_MB", "1024")),
        heartbeat_seconds=float(os.environ.get("OPTLAB_HEARTBEAT_SECONDS", "5")),
        stale_seconds=float(os.environ.get("OPTLAB_STALE_SECONDS", "30")),
        max_attempts=int(os.environ.get("OPTLAB_MAX_ATTEMPTS", "3")),
        start_local_worker=os.environ.get("OPTLAB_LOCAL_WORKER", "1") != "0",
        host=os.environ.get("OPTLAB_HOST") or socket.gethostname(),
        artifacts_url=os.environ.get("OPTLAB_ARTIFACTS_URL", ""),
        import_root=Path(os.environ["OPTLAB_IMPORT_ROOT"]).resolve() if os.environ.get("OPTLAB_IMPORT_ROOT") else None,
        db_retry_seconds=float(os.environ.get("OPTLAB_DB_RETRY_SECONDS", "120")),
        auth_mode=os.environ.get("OPTLAB_AUTH") or ("password" if password_hash else "none"),
        password_hash=password_hash,
        allowed_hosts=tuple(h.strip().lower() for h in os.environ.get("OPTLAB_ALLOWED_HOSTS", "").split(",") if h.strip()),
    )
