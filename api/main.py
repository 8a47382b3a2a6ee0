"""``tidewatch-api``: serve the API with uvicorn on ``TIDEWATCH_API_LISTEN``, on the
uvloop event loop with the httptools HTTP parser."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import sys

import uvicorn
from litestar import Litestar

from api.app import create_app
from common.event_loop import describe_running_loop
from common.listen import split_listen
from common.settings import ApiSettings, SettingsError, load_settings, resolve_dsn

__all__ = ["RedactTokens", "main", "serve"]

log = logging.getLogger("tidewatch.api")

_TOKEN_IN_QUERY = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Blanks ``token=`` query values (the live socket's) in server log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = _TOKEN_IN_QUERY.sub(r"\1***", message), ()
        return True


def main() -> int:
    """Run the API until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(ApiSettings, "TIDEWATCH_API_")
        host, port = split_listen(settings.listen)
        app = create_app(settings, resolve_dsn())
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactTokens())
    # The app's long-lived objects (routes, schemas, Structs) leave the collector's view,
    # so a full collection during a request does not walk them all.
    gc.freeze()
    return serve(app, host, port)


def serve(app: Litestar, host: str, port: int) -> int:
    """uvicorn on uvloop and httptools, named explicitly: uvicorn's "auto" would fall back
    to asyncio and h11 without a word when either is missing (exit 2 naming it instead).
    What uvicorn.run does for one process, with a startup line naming the running loop."""
    config = uvicorn.Config(
        app, host=host, port=port, loop="uvloop", http="httptools", proxy_headers=False, log_level="info"
    )
    try:
        config.load()  # imports the HTTP protocol now, not at the first connection
        loop_factory = config.get_loop_factory()
    except ImportError as exc:
        log.error("tidewatch-api needs uvloop and httptools (the server extra): %s", exc)
        return 2
    server = uvicorn.Server(config)

    async def run() -> None:
        parser = config.http_protocol_class
        log.info(
            "serving on event loop %s, HTTP parser %s.%s",
            describe_running_loop(), parser.__module__, parser.__qualname__,
        )  # fmt: skip
        await server.serve()

    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(run())
    except KeyboardInterrupt:
        pass
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main())
