"""A parser for the subset of the Prometheus text format that custom metrics use.

One sample per line::

    name{label="value",other="x"} 12.5 [timestamp_ms]

Blank lines and ``#`` comments (``# HELP``, ``# TYPE``) are ignored. Label
values take the escapes ``\\\\``, ``\\"`` and ``\\n``. Values are floats, including
``NaN``, ``+Inf`` and ``-Inf``; the caller decides what to do with those.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["ExpositionError", "ParsedSample", "parse_exposition", "parse_line"]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class ExpositionError(ValueError):
    """A line that is not a valid sample; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ParsedSample:
    """One parsed line."""

    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    timestamp_ms: int | None = None


def _skip_spaces(line: str, pos: int) -> int:
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    return pos


def _parse_labels(line: str, pos: int) -> tuple[dict[str, str], int]:
    """Labels from just after ``{`` up to and past the closing ``}``."""
    labels: dict[str, str] = {}
    while True:
        pos = _skip_spaces(line, pos)
        if pos < len(line) and line[pos] == "}":
            return labels, pos + 1
        match = _LABEL_NAME.match(line, pos)
        if match is None:
            raise ExpositionError(f"expected a label name or '}}' at column {pos + 1}")
        name = match.group()
        pos = _skip_spaces(line, match.end())
        if line[pos : pos + 1] != "=":
            raise ExpositionError(f"expected '=' after label {name!r}")
        pos = _skip_spaces(line, pos + 1)
        if line[pos : pos + 1] != '"':
            raise ExpositionError(f"label {name!r}: value must be in double quotes")
        value, pos = _parse_quoted(line, pos + 1, name)
        if name in labels:
            raise ExpositionError(f"label {name!r} given twice")
        labels[name] = value
        pos = _skip_spaces(line, pos)
        if line[pos : pos + 1] == ",":
            pos += 1
        elif line[pos : pos + 1] != "}":
            raise ExpositionError(f"expected ',' or '}}' after label {name!r}")


def _parse_quoted(line: str, pos: int, label: str) -> tuple[str, int]:
    chars: list[str] = []
    while pos < len(line):
        char = line[pos]
        if char == '"':
            return "".join(chars), pos + 1
        if char == "\\":
            escaped = _ESCAPES.get(line[pos + 1 : pos + 2])
            if escaped is None:
                raise ExpositionError(f"label {label!r}: unknown escape at column {pos + 1}")
            chars.append(escaped)
            pos += 2
            continue
        chars.append(char)
        pos += 1
    raise ExpositionError(f"label {label!r}: unterminated value")


def _parse_value(text: str) -> float:
    # Python's float() also takes "1_000"; the exposition format does not.
    try:
        if "_" not in text:
            return float(text)
    except ValueError:
        pass
    raise ExpositionError(f"value {text!r} is not a number")


def parse_line(line: str) -> ParsedSample | None:
    """One line; None for blank lines and comments. Raises ExpositionError on bad input."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = _NAME.match(stripped)
    if match is None:
        raise ExpositionError("a line must start with a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
    name = match.group()
    pos = _skip_spaces(stripped, match.end())
    labels: dict[str, str] = {}
    if stripped[pos : pos + 1] == "{":
        labels, pos = _parse_labels(stripped, pos + 1)
    rest = stripped[pos:].split()
    if not rest:
        raise ExpositionError(f"metric {name!r} has no value")
    if len(rest) > 2:
        raise ExpositionError(f"metric {name!r}: unexpected text after the value and timestamp")
    value = _parse_value(rest[0])
    timestamp_ms: int | None = None
    if len(rest) == 2:
        text = rest[1]
        if not text.lstrip("-").isdigit() or not text.isascii():
            raise ExpositionError(f"metric {name!r}: timestamp {text!r} is not integer milliseconds")
        timestamp_ms = int(text)
    return ParsedSample(name=name, value=value, labels=labels, timestamp_ms=timestamp_ms)


def parse_exposition(text: str) -> Iterator[tuple[int, ParsedSample | ExpositionError]]:
    """Every sample line of ``text`` with its 1-based line number; bad lines yield their error."""
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            sample = parse_line(line)
        except ExpositionError as exc:
            yield number, exc
            continue
        if sample is not None:
            yield number, sample
