"""Apply the numbered, forward-only SQL migrations in ``sql/``.

``NNNN_name.sql`` applies on every edition; ``NNNN_name.<edition>.sql`` applies
only on that TimescaleDB edition (``apache`` or ``timescale``). Each migration
runs in its own transaction under an advisory lock, so concurrent runs are safe
and running twice is a no-op.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

from common.edition import Edition, parse_edition
from common.settings import SettingsError, resolve_dsn

__all__ = ["Migration", "apply_migrations", "detect_edition", "discover_migrations", "main"]

log = logging.getLogger("tidewatch.migrate")

SQL_DIR = Path(os.environ.get("TIDEWATCH_SQL_DIR", Path(__file__).resolve().parent.parent / "sql"))
MIGRATE_LOCK_ID = 0x7469_6465  # "tide"
_FILE_PATTERN = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<edition>[a-z]+))?\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover_migrations(sql_dir: Path, edition: Edition) -> list[Migration]:
    """The migrations for ``edition`` in version order; one file per version."""
    chosen: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: migration files are named NNNN_name[.edition].sql")
        file_edition = match["edition"]
        if file_edition is not None and file_edition not in {e.value for e in Edition}:
            raise ValueError(f"{path.name}: unknown edition {file_edition!r}")
        if file_edition not in (None, edition.value):
            continue
        version = int(match["version"])
        if version in chosen:
            raise ValueError(f"{path.name}: version {version} is defined twice for {edition}")
        chosen[version] = Migration(version, match["name"], path)
    return [chosen[v] for v in sorted(chosen)]


def detect_edition(conn: psycopg.Connection) -> Edition:
    row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return parse_edition(row[0] if row else None)


def apply_migrations(dsn: str, sql_dir: Path = SQL_DIR) -> list[Migration]:
    """Apply what is pending and return it (empty when up to date)."""
    applied_now: list[Migration] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK_ID,))
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            edition = detect_edition(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " edition text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                version: checksum
                for version, checksum in conn.execute("SELECT version, checksum FROM schema_migrations")
            }
            for migration in discover_migrations(sql_dir, edition):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        log.warning(
                            "migration %04d_%s changed after it was applied; migrations are "
                            "forward-only, add a new one instead",
                            migration.version,
                            migration.name,
                        )
                    continue
                log.info("applying %s (%s edition)", migration.path.name, edition)
                with conn.transaction():
                    conn.execute(migration.path.read_text())  # type: ignore[arg-type]
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum, edition)"
                        " VALUES (%s, %s, %s, %s)",
                        (migration.version, migration.name, migration.checksum, edition.value),
                    )
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK_ID,))
    return applied_now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tidewatch-migrate", description=__doc__.split("\n")[0])
    parser.add_argument("--sql-dir", type=Path, default=SQL_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        dsn = resolve_dsn()
        applied = apply_migrations(dsn, args.sql_dir)
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    except psycopg.OperationalError as exc:
        log.error("cannot reach the database: %s", str(exc).strip())
        return 1
    if applied:
        log.info("applied %d migration(s); schema is up to date", len(applied))
    else:
        log.info("schema is up to date; nothing to apply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
