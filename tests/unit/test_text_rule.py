"""The one text rule (common/api_models/text.py) against Unicode itself and a JSON decoder."""

from __future__ import annotations

import re
import sys
import unicodedata

import msgspec
import pytest

from common.api_models import VpsCreate
from common.api_models.text import REFUSED_CATEGORIES, REFUSED_RANGES, TEXT_PATTERN


def test_the_ranges_are_exactly_the_refused_categories() -> None:
    listed = {code for low, high in REFUSED_RANGES for code in range(low, high + 1)}
    wanted = {
        code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) in REFUSED_CATEGORIES
    }
    assert listed == wanted


@pytest.mark.parametrize(
    "text",
    ["\u0000", "a\u202eb", "\u200b", "x\n", "x\r", "\u2028", "\ufeffx", "\U000e0041", "\u0085", "\u00ad"],
)
def test_the_pattern_refuses_controls_and_invisibles(text: str) -> None:
    assert re.search(TEXT_PATTERN, text) is None
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode({"name": text}), type=VpsCreate)


@pytest.mark.parametrize("text", ["web-01", "café", "東京", "😀", "a b", "", "Ünïcödé"])
def test_the_pattern_keeps_visible_text(text: str) -> None:
    assert re.search(TEXT_PATTERN, text) is not None


def test_lone_surrogates_never_reach_the_pattern() -> None:
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(b'{"name": "\\ud800"}', type=VpsCreate)
