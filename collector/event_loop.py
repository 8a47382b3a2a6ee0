"""Run the collector on the event loop its settings name, and say which one runs.

gRPC's asyncio server is loop-agnostic: a poller thread of its own waits on
gRPC core and hands completions to the loop through a socket watched with
``add_reader``, the same on uvloop as on the standard loop. What uvloop cuts is
the loop's own cost per wake-up (``epoll``, handles, callbacks), which dominates
a collector that is mostly idle (docs/benchmarks.md, "Collector CPU at low load").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from importlib.metadata import version
from typing import Any

import uvloop

__all__ = ["describe_running_loop", "loop_factory", "run"]


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The factory of the named loop; an unknown name is an error, never a fallback."""
    if name == "uvloop":
        return uvloop.new_event_loop
    if name == "asyncio":
        return asyncio.new_event_loop
    raise ValueError(f"unknown event loop {name!r} (expected 'uvloop' or 'asyncio')")


def run(main: Coroutine[Any, Any, None], name: str) -> None:
    """``asyncio.run`` on the named loop."""
    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        runner.run(main)


def describe_running_loop() -> str:
    """For the startup log: the loop's class, and uvloop's version when it is uvloop."""
    loop = asyncio.get_running_loop()
    kind = f"{type(loop).__module__}.{type(loop).__qualname__}"
    return f"{kind} (uvloop {version('uvloop')})" if isinstance(loop, uvloop.Loop) else kind
