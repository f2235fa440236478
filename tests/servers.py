"""Real Redis and PostgreSQL servers for the scale-out tests, started on loopback in a temporary
folder (Debian's redis-server and postgresql; scripts/test.sh installs them when it runs as root).

Each can be stopped, killed and started again on the same port and data, as a restart in
production would. Tests that need one are skipped, with the reason, where the binaries are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

POSTGRES_BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, up: bool, timeout: float = 30.0) -> None:
    """Waits until something listens on 127.0.0.1:port (up) or nothing does (not up)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            listening = s.connect_ex(("127.0.0.1", port)) == 0
        if listening == up:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"port {port} still {'closed' if up else 'open'} after {timeout:.0f} s")
        time.sleep(0.1)


@dataclass
class RedisServer:
    """redis-server with an append-only file fsynced on every write (what a queue that must not lose
    jobs runs with), so a kill -9 and a start keep every message."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes"],
            stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT)
        wait_port(self.port, up=True)

    def kill(self) -> None:
        """kill -9: no shutdown save, only what the append-only file holds survives."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        wait_port(self.port, up=False)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@dataclass
class PostgresServer:
    """A PostgreSQL cluster of its own (initdb), trusting loopback connections, on a free port.

    As root it runs as the 'postgres' user (the server refuses root) in a folder that user owns.
    """

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def bin(self) -> Path:
        return Path(POSTGRES_BINARIES[-1])

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(prefix + list(argv), capture_output=True, text=True, check=check, cwd="/")

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"),
                  "-w", "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")
        wait_port(self.port, up=True)

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop", check=False)
        wait_port(self.port, up=False)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stops the server the way an operator's restart does ('fast': open connections are cut)."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def start_target_worker(queue: str, host: str, *, log=subprocess.DEVNULL, **settings: str) -> subprocess.Popen:
    """`python -m core.worker --queue QUEUE` as another machine runs it (its own OPTLAB_HOST, and
    settings such as its own OPTLAB_DATA_DIR); returns once it has announced itself in the workers table."""
    from core.jobs.targets import live_workers

    process = subprocess.Popen([sys.executable, "-m", "core.worker", "--queue", queue], cwd=ROOT,
                               env={**os.environ, "OPTLAB_HOST": host, **settings}, stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not any(w.queue == queue and w.host == host and w.pid == process.pid for w in live_workers()):
        if process.poll() is not None:
            raise RuntimeError(f"the worker for {queue} on {host} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker for {queue} on {host} did not announce itself")
        time.sleep(0.2)
    return process


def start_redis() -> RedisServer:
    if shutil.which("redis-server") is None:
        pytest.skip("needs Debian's redis-server (scripts/test.sh installs it when run as root)")
    pytest.importorskip("redis", reason="needs requirements-scale.txt (the redis client)")
    server = RedisServer(Path(tempfile.mkdtemp(prefix="optlab-redis-")))
    server.start()
    return server


def start_postgres() -> PostgresServer:
    if not POSTGRES_BINARIES or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("needs Debian's postgresql (scripts/test.sh installs it when run as root)")
    pytest.importorskip("psycopg", reason="needs requirements-scale.txt (the psycopg driver)")
    # Not under pytest's basetemp: as root that is private to root, and the server runs as 'postgres'.
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="optlab-postgres-")))
    server.init()
    server.start()
    return server


@dataclass
class S3Server:
    """moto's S3-compatible server (a real HTTP endpoint, in this process's threads) with one bucket."""

    port: int = field(default_factory=free_port)
    bucket: str = "lab-artifacts"
    server: object | None = None

    @property
    def settings(self) -> dict[str, str]:
        """The environment a lab process needs to use it: endpoint and credentials (moto takes any)."""
        return {"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{self.port}", "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        wait_port(self.port, up=True)
        import boto3

        boto3.client("s3", endpoint_url=self.settings["AWS_ENDPOINT_URL_S3"], aws_access_key_id="test",
                     aws_secret_access_key="test", region_name="us-east-1").create_bucket(Bucket=self.bucket)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def start_s3() -> S3Server:
    pytest.importorskip("moto.server", reason="needs requirements-dev.txt (moto's S3 server)")
    pytest.importorskip("s3fs", reason="needs requirements-scale.txt (s3fs)")
    server = S3Server()
    server.start()
    return server
