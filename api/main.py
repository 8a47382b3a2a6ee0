"""``tidewatch-api``: serve the API with uvicorn on ``TIDEWATCH_API_LISTEN``."""

from __future__ import annotations

import logging
import sys

import uvicorn

from api.app import create_app
from common.settings import ApiSettings, SettingsError, load_settings, resolve_dsn

__all__ = ["main", "split_listen"]

log = logging.getLogger("tidewatch.api")


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"listen address {listen!r} must be host:port, e.g. 127.0.0.1:8000")
    return host.strip("[]") or "127.0.0.1", int(port)


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
    # Access logs carry no query strings worth hiding: live-socket tokens should go in the first message.
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
