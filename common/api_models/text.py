"""The one rule for free text a client sends: names, labels, usernames.

Control characters (NUL included: PostgreSQL refuses it in ``text``), bidi
overrides such as U+202E, zero-width and other invisible format characters,
and line and paragraph separators are refused, because they either break
storage or make a name display as something it is not.

The refused set is Unicode's categories Cc, Cf, Zl and Zp;
tests/unit/test_text_rule.py checks the ranges below against ``unicodedata``.
Lone surrogates (Cs) never reach the pattern: msgspec's JSON decoder refuses
them, and leaving them out keeps the pattern valid for every regex engine
(Rust's cannot name surrogates).
"""

from __future__ import annotations

__all__ = ["END", "REFUSED_CATEGORIES", "REFUSED_RANGES", "TEXT_PATTERN"]

REFUSED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")
# Inclusive code point ranges of REFUSED_CATEGORIES (Unicode 15, Python 3.11+).
REFUSED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip

# `$` alone also matches before a final newline in Python; this matches only at the very end,
# and means the same in Python and ECMA-262 (what OpenAPI clients use).
END = r"(?![\s\S])"


def _escape(code_point: int) -> str:
    # \uXXXX reads the same in Python and ECMA-262; astral characters are written as themselves.
    return f"\\u{code_point:04x}" if code_point <= 0xFFFF else chr(code_point)


def _char_class() -> str:
    return "".join(
        _escape(low) if low == high else f"{_escape(low)}-{_escape(high)}" for low, high in REFUSED_RANGES
    )


TEXT_PATTERN = f"^[^{_char_class()}]*{END}"
