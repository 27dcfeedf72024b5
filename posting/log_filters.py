"""Keep the run console readable: the web server's routine access lines are dropped."""

import logging

# Requests a browser makes by itself: static files, the dashboard's refresh and its
# screenshots, the favicon.
ROUTINE_PATHS = ("/static/", "/dashboard/data.json", "/favicon.", "/evidence/")


class QuietAccessLog(logging.Filter):
    """Drops successful access lines for ROUTINE_PATHS; errors and other pages stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status >= 400:
            return True
        message = record.getMessage()
        return not any(f" {path}" in message for path in ROUTINE_PATHS)
