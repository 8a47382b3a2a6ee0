"""Run a service on the event loop it names, and say which one runs.

The collector and the API both run on uvloop (the API through uvicorn).

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

__all__ = ["describe_running_loop", "loop_factory", "run"]


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The factory of the named loop; an unknown name is an error, never a fallback.

    uvloop is imported here, not with this module, so a missing wheel is an
    ImportError the entry point reports in one line.
    """
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    if name == "asyncio":
        return asyncio.new_event_loop
    raise ValueError(f"unknown event loop {name!r} (expected 'uvloop' or 'asyncio')")


def run(main: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
    """``asyncio.run(main())`` on the named loop (chosen before ``main`` is called)."""
    factory = loop_factory(name)
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


def describe_running_loop() -> str:
    """For the startup log: the loop's class, and uvloop's version when it is uvloop."""
    kind = type(asyncio.get_running_loop())
    name = f"{kind.__module__}.{kind.__qualname__}"
    return f"{name} (uvloop {version('uvloop')})" if kind.__module__.startswith("uvloop") else name
