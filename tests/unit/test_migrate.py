"""Migration discovery per edition, and applying twice against the real database."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import psycopg
import pytest

from common.edition import Edition
from common.migrate import SQL_DIR, Migration, apply_migrations, discover_migrations
from tests.conftest import server_edition

pytestmark = pytest.mark.storage


def sql_dir(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).write_text(f"-- {name}\n")
    return tmp_path


def found(migrations: list[Migration]) -> list[tuple[int, str, str]]:
    return [(m.version, m.name, m.path.name) for m in migrations]


def test_edition_specific_files_are_chosen_per_edition(tmp_path: Path) -> None:
    directory = sql_dir(
        tmp_path, "0003_tail.sql", "0001_core.sql", "0002_rollups.apache.sql", "0002_rollups.timescale.sql"
    )
    (directory / "README.md").write_text("not a migration")
    assert found(discover_migrations(directory, Edition.APACHE)) == [
        (1, "core", "0001_core.sql"),
        (2, "rollups", "0002_rollups.apache.sql"),
        (3, "tail", "0003_tail.sql"),
    ]
    assert found(discover_migrations(directory, Edition.COMMUNITY))[1] == (
        2,
        "rollups",
        "0002_rollups.timescale.sql",
    )


def test_an_edition_file_may_exist_for_one_edition_only(tmp_path: Path) -> None:
    directory = sql_dir(tmp_path, "0001_core.sql", "0002_extra.apache.sql")
    assert [m.version for m in discover_migrations(directory, Edition.APACHE)] == [1, 2]
    assert [m.version for m in discover_migrations(directory, Edition.COMMUNITY)] == [1]


@pytest.mark.parametrize(
    ("names", "edition"),
    [
        (("0002_a.sql", "0002_b.sql"), Edition.APACHE),
        (("0002_a.sql", "0002_a.apache.sql"), Edition.APACHE),
        (("0002_a.timescale.sql", "0002_b.timescale.sql"), Edition.COMMUNITY),
    ],
)
def test_a_version_defined_twice_is_an_error(
    tmp_path: Path, names: tuple[str, ...], edition: Edition
) -> None:
    with pytest.raises(ValueError, match=rf"version 2 is defined twice for {edition}"):
        discover_migrations(sql_dir(tmp_path, *names), edition)


def test_the_same_version_for_another_edition_is_not_a_duplicate(tmp_path: Path) -> None:
    directory = sql_dir(tmp_path, "0002_a.sql", "0002_a.apache.sql")
    assert [m.path.name for m in discover_migrations(directory, Edition.COMMUNITY)] == ["0002_a.sql"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1_core.sql", "migration files are named NNNN_name[.edition].sql"),
        ("0001-core.sql", "migration files are named"),
        ("0001_Core.sql", "migration files are named"),
        ("0001_core.apache.extra.sql", "migration files are named"),
        ("0001_core.oracle.sql", "unknown edition 'oracle'"),
    ],
)
def test_badly_named_files_are_errors_naming_the_file(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(name)}: .*{re.escape(message)}"):
        discover_migrations(sql_dir(tmp_path, name), Edition.APACHE)


def test_the_shipped_migrations_are_contiguous_for_both_editions() -> None:
    for edition in Edition:
        migrations = discover_migrations(SQL_DIR, edition)
        assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
        rollups = next(m for m in migrations if m.name == "rollup_objects")
        assert rollups.path.name == f"0004_rollup_objects.{edition.value}.sql"
        assert len({m.checksum for m in migrations}) == len(migrations)


@pytest.mark.db
def test_migrating_twice_is_a_no_op(own_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dsn = own_dsn  # migrated once already (created from the migrated template)
    with psycopg.connect(dsn) as conn:
        before = conn.execute(
            "SELECT version, checksum, edition FROM schema_migrations ORDER BY version"
        ).fetchall()
    edition = server_edition()
    assert [v for v, _, _ in before] == [m.version for m in discover_migrations(SQL_DIR, edition)]
    assert {e for _, _, e in before} == {edition.value}

    assert apply_migrations(dsn) == []

    # An applied file edited afterwards is reported, never re-run.
    edited = tmp_path / "sql"
    shutil.copytree(SQL_DIR, edited)
    last = edited / discover_migrations(SQL_DIR, edition)[-1].path.name
    last.write_text(last.read_text() + "\n-- edited after release\n")
    with caplog.at_level(logging.WARNING, logger="tidewatch.migrate"):
        assert apply_migrations(dsn, edited) == []
    assert f"migration {last.name.split('_')[0]}" in caplog.text and "forward-only" in caplog.text

    with psycopg.connect(dsn) as conn:
        after = conn.execute(
            "SELECT version, checksum, edition FROM schema_migrations ORDER BY version"
        ).fetchall()
    assert after == before
