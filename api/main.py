"""``tidewatch-api``: serve the API with uvicorn on ``TIDEWATCH_API_LISTEN``."""

from __future__ import annotations

import gc
import logging
import re
import sys

import uvicorn

from api.app import create_app
from common.listen import split_listen
from common.settings import ApiSettings, SettingsError, load_settings, resolve_dsn

__all__ = ["RedactTokens", "main"]

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
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
