"""A real PostgreSQL server for the tests: Debian's `postgresql` binaries, a cluster made by initdb in a temporary
folder, listening on 127.0.0.1 only, run as an unprivileged user (PostgreSQL refuses to run as root).

Without the binaries the tests that need it skip, saying so, except in CI (which installs them: .ci/run), where
they fail.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

UNPRIVILEGED_USER = "nobody"


def postgres_bin() -> Path:
    """The folder of Debian's PostgreSQL server binaries (the newest version installed)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        message = "PostgreSQL server binaries not found under /usr/lib/postgresql (apt install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs them: the server-profile tests must run there
        pytest.skip(message)
    return versions[-1].parent


@dataclass
class PostgresServer:
    """One cluster; ``database()`` makes a fresh database in it and returns its connection string."""

    port: int
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="newsbot-pg-")))
    process: subprocess.Popen | None = None
    password: str = field(default_factory=lambda: secrets.token_hex(8))

    def start(self) -> None:
        binaries = postgres_bin()
        data = self.folder / "data"
        as_user, run_as = _unprivileged()
        if run_as is not None:
            os.chown(self.folder, run_as.pw_uid, run_as.pw_gid)
        secret_file = self.folder / "password"
        secret_file.write_text(self.password)
        if run_as is not None:
            os.chown(secret_file, run_as.pw_uid, run_as.pw_gid)
        subprocess.run(
            [binaries / "initdb", "-D", data, "-U", "newsbot", "--auth=scram-sha-256", f"--pwfile={secret_file}",
             "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True, user=as_user, cwd=self.folder,
        )  # fmt: skip
        self.process = subprocess.Popen(
            [binaries / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(self.port), "-k", self.folder,
             "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=as_user, cwd=self.folder,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("postgres did not come up") from None
                time.sleep(0.2)

    def dsn(self, database: str) -> str:
        return f"postgresql://newsbot:{self.password}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new empty database; its connection string."""
        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _unprivileged() -> tuple[str | None, pwd.struct_passwd | None]:
    """Run as ``nobody`` when the tests run as root (CI), else as ourselves."""
    if os.geteuid() != 0:
        return None, None
    return UNPRIVILEGED_USER, pwd.getpwnam(UNPRIVILEGED_USER)
