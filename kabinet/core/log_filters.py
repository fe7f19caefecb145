"""Logging filter that stamps records with the current request id (never with personal data)."""

import logging

from kabinet.core import request_context


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = request_context.current()
        record.request_id = ctx.request_id if ctx else "-"
        return True
