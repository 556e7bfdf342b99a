"""A benchmark's own database on the local PostgreSQL, dropped, re-created and migrated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def psql(sql: str, db: str = "postgres") -> str:
    """Run ``sql`` with psql as the postgres user on 127.0.0.1; return what it printed."""
    return subprocess.run(["psql", "-qAt", "-h", "127.0.0.1", "-U", "postgres", "-d", db,
                           "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout


def fresh_database(name: str, env: dict[str, str]) -> None:
    """Drop and re-create database ``name``, then migrate it (``env`` has its DATABASE_URL)."""
    psql(f"DROP DATABASE IF EXISTS {name}")
    psql(f"CREATE DATABASE {name}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env,
                   check=True)


def ensure_database(dsn: str) -> None:
    """Create the database the last part of ``dsn`` (postgresql://.../NAME) names if missing."""
    import psycopg2  # the scripts that only drop and re-create with psql do without it

    base, _, name = dsn.rpartition("/")
    conn = psycopg2.connect(base + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
