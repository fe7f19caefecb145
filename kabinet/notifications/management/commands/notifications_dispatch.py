"""`manage.py notifications_dispatch`: a dedicated outbox dispatcher loop (scaled-out set-ups, benchmarks)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kabinet.notifications.dispatch import dispatch_due


class Command(BaseCommand):
    help = "Send due outbox messages forever (or --once). Several may run at once: claims never overlap."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=None, help="messages claimed per round")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds to wait when nothing is due")
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            report = dispatch_due(batch=options["batch"])
            if report.claimed or report.requeued or report.unknown:
                self.stdout.write(
                    f"claimed {report.claimed}, sent {report.sent}, retried {report.retried}, "
                    f"failed {report.failed}, requeued {report.requeued}, unknown {report.unknown}"
                )
            if options["once"]:
                return
            if not report.claimed:
                time.sleep(options["interval"])
