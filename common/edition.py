"""Which TimescaleDB edition a database runs, which decides how rollups are kept."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Edition", "parse_edition"]


class Edition(StrEnum):
    """``timescale``: Community (native continuous aggregates and policies).
    ``apache``: Apache-2 build, where Tidewatch maintains rollups itself."""

    COMMUNITY = "timescale"
    APACHE = "apache"


def parse_edition(license_setting: str | None) -> Edition:
    """Map ``current_setting('timescaledb.license')`` to an edition.

    Raises ``ValueError`` when TimescaleDB is not loaded or the value is unknown.
    """
    if not license_setting:
        raise ValueError(
            "TimescaleDB is not loaded: add it to shared_preload_libraries and CREATE EXTENSION timescaledb"
        )
    try:
        return Edition(license_setting.strip().lower())
    except ValueError:
        raise ValueError(f"unknown TimescaleDB license {license_setting!r}") from None
