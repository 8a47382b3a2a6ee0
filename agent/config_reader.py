"""Typed, error-collecting access to one TOML table of the agent config."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from common.addresses import split_host_port

__all__ = ["ConfigError", "SectionReader", "parse_address", "parse_env_value"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists each one."""

    def __init__(self, problems: Iterable[str], *, source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid agent configuration{where}:\n{lines}")


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


class SectionReader:
    """Reads keys of one table, recording errors instead of raising on the first one."""

    def __init__(self, name: str, table: Mapping[str, Any], errors: list[str], *, allowed: set[str]) -> None:
        self.name = name
        self._table = table
        self._errors = errors
        self._bad: set[str] = set()
        for key in sorted(set(table) - allowed):
            known = ", ".join(sorted(allowed))
            self.error(key, f"unknown key (known keys: {known})")

    def qualified(self, key: str) -> str:
        """``section.key`` as written in the file."""
        return f"{self.name}.{key}" if self.name else key

    def error(self, key: str, message: str) -> None:
        """Record a problem with ``key``."""
        self._bad.add(key)
        self._errors.append(f"{self.qualified(key)}: {message}")

    def has_error(self, *keys: str) -> bool:
        """Whether any of ``keys`` already has a recorded problem."""
        return any(k in self._bad for k in keys)

    def section(self, name: str, keys: Mapping[str, type]) -> SectionReader:
        """A reader for the sub-table ``name`` (absent means empty)."""
        table = self._table.get(name, {})
        if not isinstance(table, Mapping):
            self.error(name, f"expected a table [{name}], got {_describe(table)}")
            table = {}
        return SectionReader(self.qualified(name), table, self._errors, allowed=set(keys))

    def _get(self, key: str, kinds: tuple[type, ...], expected: str) -> Any:
        if key not in self._table:
            return None
        value = self._table[key]
        # bool is an int subclass; a number key must not accept `true`.
        is_bad_bool = isinstance(value, bool) and bool not in kinds
        if is_bad_bool or not isinstance(value, kinds):
            self.error(key, f"expected {expected}, got {_describe(value)}")
            return None
        return value

    def string(self, key: str, default: str) -> str:
        """A string value."""
        value = self._get(key, (str,), "a string")
        return default if value is None else str(value)

    def boolean(self, key: str, default: bool) -> bool:
        """A true/false value."""
        value = self._get(key, (bool,), "true or false")
        return default if value is None else bool(value)

    def integer(
        self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        """An integer within optional bounds."""
        value = self._get(key, (int,), "an integer")
        if value is None:
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.error(key, f"expected an integer in [{minimum}, {maximum or 'inf'}], got {value}")
            return default
        return int(value)

    def number(self, key: str, default: float, *, minimum: float) -> float:
        """A number (int or float) of at least ``minimum``."""
        value = self._get(key, (int, float), "a number")
        if value is None:
            return default
        if value < minimum:
            self.error(key, f"expected a number >= {minimum}, got {value}")
            return default
        return float(value)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        """One of a fixed set of lowercase strings."""
        value = self.string(key, default).lower()
        if value not in choices:
            self.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    def path(self, key: str, *, must_exist: bool = False) -> Path | None:
        """A filesystem path; empty means unset."""
        value = self.string(key, "")
        if not value:
            return None
        path = Path(value)
        if must_exist and not path.is_file():
            self.error(key, f"file {value} does not exist or is not a regular file")
        return path

    def string_list(self, key: str) -> tuple[str, ...]:
        """A list of strings."""
        value = self._get(key, (list,), "a list of strings")
        if value is None:
            return ()
        if not all(isinstance(v, str) for v in value):
            self.error(key, f"expected a list of strings, got {value!r}")
            return ()
        return tuple(value)


def parse_address(reader: SectionReader, key: str) -> str:
    """Validate ``host:port`` (``[v6]:port`` for IPv6 literals)."""
    value = reader.string(key, "")
    if not value:
        reader.error(key, "required: the collector address as host:port")
        return ""
    try:
        split_host_port(value)
    except ValueError:
        reader.error(key, f"expected host:port (e.g. collector.example.com:50051), got {value!r}")
    return value


def parse_env_value(text: str, kind: type) -> Any:
    """Convert an environment string to the TOML type of its key."""
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if kind is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text
