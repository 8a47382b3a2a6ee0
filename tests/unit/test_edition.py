"""Which TimescaleDB edition a license setting names."""

from __future__ import annotations

import pytest

from common.edition import Edition, parse_edition


@pytest.mark.parametrize(
    ("setting", "edition"),
    [
        ("timescale", Edition.COMMUNITY),
        ("apache", Edition.APACHE),
        (" Apache\n", Edition.APACHE),
        ("TIMESCALE", Edition.COMMUNITY),
    ],
)
def test_known_licenses(setting: str, edition: Edition) -> None:
    assert parse_edition(setting) is edition


@pytest.mark.parametrize("setting", [None, ""])
def test_missing_extension_says_how_to_load_it(setting: str | None) -> None:
    with pytest.raises(ValueError, match="TimescaleDB is not loaded: add it to shared_preload_libraries"):
        parse_edition(setting)


def test_unknown_license_is_named() -> None:
    with pytest.raises(ValueError, match=r"^unknown TimescaleDB license 'enterprise'$"):
        parse_edition("enterprise")


def test_edition_values_match_migration_file_suffixes() -> None:
    assert {e.value for e in Edition} == {"timescale", "apache"}
