"""``tidewatch-dashboards``: serve the Dash app on ``TIDEWATCH_DASHBOARDS_LISTEN``."""

from __future__ import annotations

import logging
import sys

from waitress import serve

from common.listen import split_listen
from common.settings import DashboardSettings, SettingsError, load_settings
from dashboards.app import create_app

__all__ = ["main"]

log = logging.getLogger("tidewatch.dashboards")


def main() -> int:
    """Run the dashboards until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(DashboardSettings, "TIDEWATCH_DASHBOARDS_")
        host, port = split_listen(settings.listen)
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    app = create_app(settings)
    log.info("dashboards on http://%s:%s, reading the API at %s", host, port, settings.api_url)
    # Flask's own server warns it is not for production; waitress is.
    serve(app.server, host=host, port=port, threads=settings.threads, ident="tidewatch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
