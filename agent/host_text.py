"""Host facts as text a protobuf string field accepts, changed reversibly only when they must be.

The OS hands the agent names as bytes: a hostname, a mount point or an interface
name need not be UTF-8, and Python decodes them with ``surrogateescape``, so an
undecodable byte ``0xff`` arrives as the lone surrogate U+DCFF, which protobuf
refuses to encode. Control characters are valid UTF-8 but break logs and
terminals. A string with neither is returned unchanged. Otherwise it is escaped:

- ``\\`` becomes ``\\\\``;
- an undecodable byte ``0xNN`` becomes ``\\xNN`` (always ``NN`` >= 80);
- a C0 control character or DEL becomes ``\\xNN`` (``NN`` < 80);
- a C1 control character or any other lone surrogate becomes ``\\uNNNN``.

:func:`unescape` reverses it, so the original bytes can be recovered with
``os.fsencode(unescape(text))``. Every fact that needed escaping is logged once
and named in :func:`altered_facts`, which the handshake reports as
``HostInfo.sanitised_fields``.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["altered_facts", "escape", "host_text", "unescape"]

log = logging.getLogger(__name__)

# C0, DEL, C1 and every surrogate: what protobuf refuses or a terminal obeys.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TO_ESCAPE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ESCAPED = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")
_MAX_LOGGED = 256

_lock = threading.Lock()
_altered: dict[str, None] = {}  # insertion-ordered set of fact names
_logged: set[tuple[str, str]] = set()


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x5C:
        return "\\\\"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _unescape_match(match: re.Match[str]) -> str:
    token = match.group(1)
    if token == "\\":
        return "\\"
    code = int(token[1:], 16)
    if token[0] == "x" and code >= 0x80:
        return chr(0xDC00 + code)
    return chr(code)


def escape(text: str) -> str:
    """``text`` with backslashes, control characters and lone surrogates escaped."""
    return _TO_ESCAPE.sub(_escape_char, text)


def unescape(text: str) -> str:
    """The inverse of :func:`escape`."""
    return _ESCAPED.sub(_unescape_match, text)


def host_text(value: str | bytes, fact: str) -> str:
    """``value`` unchanged when it is clean text; else escaped, logged once and recorded under ``fact``."""
    text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
    if _UNSAFE.search(text) is None:
        return text
    escaped = escape(text)
    with _lock:
        _altered.setdefault(fact, None)
        first = (fact, escaped) not in _logged and len(_logged) < _MAX_LOGGED
        if first:
            _logged.add((fact, escaped))
    if first:
        log.warning("%s is not clean UTF-8 text; reporting it escaped as %s", fact, escaped)
    return escaped


def altered_facts() -> list[str]:
    """The facts escaped at least once since the agent started, in the order first seen."""
    with _lock:
        return list(_altered)
