"""Redraw the fleet only when its shape changes; otherwise patch the live values.

Dash's renderer does work for every component it re-renders, so sending 60 fresh
cards on each poll costs the browser about a second of CPU (bench/fleet_render.py).
The renderers mark each element whose text, class or style follows the samples with
the class ``LIVE_CLASS``; everything else is the draw's *shape*. When a new draw has
the shape of the one in the page, the page gets a ``dash.Patch`` that assigns only the
live properties that changed, and React re-renders just those elements.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from dash import Patch

__all__ = ["LIVE_CLASS", "LIVE_PROPS", "Drawn", "plan_draw"]

LIVE_CLASS = "tw-live"
LIVE_PROPS = ("children", "className", "style")
_HASH_BYTES = 8

Path = tuple[str | int, ...]


class Drawn(msgspec.Struct):
    """What the page holds (kept in a store): the shape's digest and a digest of each
    live element's properties, by path."""

    shape: str
    live: dict[str, str]


def _json(value: Any) -> Any:
    """Components as plain JSON data, all the way down."""
    if hasattr(value, "to_plotly_json"):
        value = value.to_plotly_json()
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    return value


def _digest(value: Any) -> str:
    return hashlib.blake2b(msgspec.json.encode(value), digest_size=_HASH_BYTES).hexdigest()


def _is_live(node: dict[str, Any]) -> bool:
    class_name = node.get("props", {}).get("className")
    return isinstance(class_name, str) and LIVE_CLASS in class_name.split()


def _split(node: Any, path: Path, live: dict[Path, dict[str, Any]]) -> Any:
    """``node`` with each live element's live properties taken out into ``live``."""
    if isinstance(node, list):
        return [_split(child, (*path, index), live) for index, child in enumerate(node)]
    if not isinstance(node, dict) or "props" not in node:
        return node
    props = dict(node["props"])
    if _is_live(node):
        live[path] = {name: props.pop(name) for name in LIVE_PROPS if name in props}
    elif "children" in props:
        props["children"] = _split(props["children"], (*path, "props", "children"), live)
    return {**node, "props": props}


def _key(path: Path) -> str:
    return "/".join(map(str, path))


def plan_draw(body: Any, drawn: dict[str, Any] | None) -> tuple[Any, Drawn, int]:
    """What to send for ``body``: itself when the page holds another shape (or nothing),
    else a Patch of the live properties that changed. Returns it, the new ``Drawn``,
    and how many elements the patch touches (-1 for a full draw)."""
    live: dict[Path, dict[str, Any]] = {}
    shape = _digest(_split(_json(body), (), live))
    digests = {_key(path): _digest(props) for path, props in live.items()}
    now = Drawn(shape, digests)
    before = msgspec.convert(drawn, Drawn) if drawn else None
    if before is None or before.shape != shape:
        return body, now, -1
    patch = Patch()
    touched = 0
    for path, props in live.items():
        if before.live.get(_key(path)) == digests[_key(path)]:
            continue
        target: Any = patch
        for step in path:
            target = target[step]
        for name, value in props.items():
            target["props"][name] = value
        touched += 1
    return patch, now, touched
