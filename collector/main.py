"""``tidewatch-collector``: the gRPC ingest server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from collector import metrics
from collector.app import CollectorApp
from collector.gc_tuning import tune_gc
from common import event_loop
from common.settings import CollectorSettings, SettingsError, load_settings, resolve_dsn

__all__ = ["main"]

log = logging.getLogger("tidewatch.collector")


async def _run(settings: CollectorSettings, dsn: str) -> None:
    log.info("event loop: %s", event_loop.describe_running_loop())
    # Before starting: the port listens from build_server on, and a SIGTERM from
    # then on must stop the collector cleanly, not kill it mid-start.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = CollectorApp(settings, dsn)
    await app.start()
    tune_gc()
    await stop.wait()
    await app.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tidewatch-collector", description="Tidewatch gRPC ingest server")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    try:
        settings = load_settings(CollectorSettings, "TIDEWATCH_COLLECTOR_")
        dsn = resolve_dsn()
        if settings.metrics_listen:
            metrics.serve_metrics(settings.metrics_listen)
        event_loop.run(lambda: _run(settings, dsn), settings.event_loop)
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    except ImportError as exc:  # only the loop is imported this late
        log.error(
            "tidewatch-collector needs uvloop (the server extra), or TIDEWATCH_COLLECTOR_EVENT_LOOP=asyncio: %s",
            exc,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
