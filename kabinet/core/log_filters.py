"""Logging filters: stamp records with the current request id; keep secrets that live in URLs out of the logs."""

import logging
import re

from kabinet.core import request_context


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = request_context.current()
        record.request_id = ctx.request_id if ctx else "-"
        return True


# Capability URLs: whoever has the link has the data (private calendar feeds), so their tokens never reach a log.
SECRET_IN_PATH = re.compile(r"(/feeds/)[A-Za-z0-9_-]+(\.ics)")


class SecretPathFilter(logging.Filter):
    """Replace tokens in capability URLs (e.g. "Not Found: /calendar/feeds/<token>.ics") with "***"."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_IN_PATH.sub(r"\1***\2", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
