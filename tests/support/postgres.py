"""A PostgreSQL server of the tests' own: Debian's binaries, a fresh cluster in a temporary
folder, listening on 127.0.0.1 and a free port only, removed after.

``initdb`` and ``postgres`` refuse to run as root, so as root the server runs as the
``postgres`` user (``setpriv``), in a folder handed to that user; as anyone else it runs
as the caller. Password authentication (scram-sha-256) on TCP, as a cluster's database
would ask, so the URIs carry a user and password that a container can use as well.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import stop_process
from tests.support.s3 import free_port

START_SECONDS = 60
SERVER_USER = "postgres"  # the account Debian's package creates


def postgres_bin() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<major>/bin``, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str

    def uri(self, driver: str = "postgresql+psycopg2") -> str:
        """A SQLAlchemy URI (MLflow's ``--backend-store-uri``); ``driver="postgresql"`` for libpq."""
        return f"{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def create_database(self, name: str) -> str:
        """A new, empty database on this server; its SQLAlchemy URI."""
        import psycopg2

        connection = psycopg2.connect(self.uri("postgresql"))
        connection.autocommit = True  # CREATE DATABASE runs outside a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.uri().rsplit("/", 1)[0] + f"/{name}"


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return [
        "setpriv",
        f"--reuid={SERVER_USER}",
        f"--regid={SERVER_USER}",
        "--init-groups",
        *command,
    ]


def _wait_ready(server: subprocess.Popen, bindir: Path, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        ready = subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "1"],
            capture_output=True,
            check=False,
        )
        if ready.returncode == 0:
            return
        if server.poll() is not None or time.monotonic() > deadline:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1:{port}:\n{text[-2000:]}")
        time.sleep(0.2)


@contextmanager
def running_postgres(database: str = "kfops") -> Iterator[PostgresServer]:
    """A new PostgreSQL cluster with ``database``, owned by a password user; stopped and
    deleted on exit. Raises RuntimeError when no PostgreSQL is installed (callers skip)."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql)")
    # Not under pytest's tmp_path: its parents are private to root, and the server user
    # must reach its data folder.
    work = Path(tempfile.mkdtemp(prefix="kfops-postgres-"))
    user, password, port = "kfops", secrets.token_hex(12), free_port()
    server: subprocess.Popen | None = None
    try:
        (work / "password").write_text(password + "\n")
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(work, account.pw_uid, account.pw_gid)
            os.chown(work / "password", account.pw_uid, account.pw_gid)
        data = work / "data"
        subprocess.run(
            _as_server_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    user,
                    f"--pwfile={work / 'password'}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),  # fmt: skip
            check=True,
            capture_output=True,
        )
        log = work / "postgres.log"
        with open(log, "wb") as output:
            server = subprocess.Popen(
                _as_server_user(
                    [
                        str(bindir / "postgres"),
                        "-D",
                        str(data),
                        "-p",
                        str(port),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        f"unix_socket_directories={work}",
                        "-c",
                        "fsync=off",  # a test cluster: nothing to keep after a crash
                    ]
                ),  # fmt: skip
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        _wait_ready(server, bindir, port, log)
        admin = PostgresServer("127.0.0.1", port, user, password, "postgres")
        admin.create_database(database)
        yield PostgresServer("127.0.0.1", port, user, password, database)
    finally:
        if server is not None:
            # SIGINT is PostgreSQL's fast shutdown: open sessions are ended, not waited for.
            server.send_signal(2)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                stop_process(server, 10)
        shutil.rmtree(work, ignore_errors=True)
