"""``tidewatch-alerts``: the evaluator and the sender, in one process.

Every instance evaluates (one at a time, by advisory lock) and sends (row
locks), so running two is safe and either can be restarted at any moment: all
state is in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection

from alerts.evaluator import evaluate_once
from alerts.sender import send_next
from alerts.settings import AlertsSettings, load_alerts_settings
from common.settings import SettingsError, resolve_dsn

__all__ = ["main", "run"]

log = logging.getLogger("tidewatch.alerts")


async def _loop(
    dsn: str, name: str, step: Callable[[AsyncConnection[Any]], Awaitable[float]], stop: asyncio.Event
) -> None:
    """Run ``step`` (which returns how long to wait) on one connection, reconnecting on errors."""
    while not stop.is_set():
        try:
            async with await AsyncConnection.connect(
                dsn, autocommit=True, application_name=f"tidewatch-alerts-{name}"
            ) as conn:
                while not stop.is_set():
                    wait_s = await step(conn)
                    if wait_s > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), wait_s)
        except Exception as exc:
            log.warning("%s loop: %s (retrying)", name, str(exc).strip() or type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)


async def run(settings: AlertsSettings, dsn: str, stop: asyncio.Event) -> None:
    async def evaluate(conn: AsyncConnection[Any]) -> float:
        await evaluate_once(conn, settings)
        return settings.evaluate_interval_s

    async def send(conn: AsyncConnection[Any]) -> float:
        return 0.0 if await send_next(conn, settings) else settings.send_poll_interval_s

    log.info("alerts evaluator running (every %.1f s)", settings.evaluate_interval_s)
    await asyncio.gather(_loop(dsn, "evaluate", evaluate, stop), _loop(dsn, "send", send, stop))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tidewatch-alerts", description="Tidewatch alert evaluator and sender"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_alerts_settings()
        dsn = resolve_dsn()
    except SettingsError as exc:
        log.error("%s", exc)
        return 2

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, dsn, stop)

    asyncio.run(_main())
    return 0


if __name__ == "__main__":
    sys.exit(main())
