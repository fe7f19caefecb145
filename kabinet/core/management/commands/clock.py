"""`manage.py clock`: the process that enqueues periodic jobs (heartbeat, reminders, SLA checks...)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kabinet.core import clock


class Command(BaseCommand):
    help = "Enqueue periodic jobs forever (or --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between ticks")
        parser.add_argument("--once", action="store_true", help="run one tick and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        names = ", ".join(job.name for job in clock.jobs())
        self.stdout.write(f"clock: jobs {names}")
        clock.run_forever(interval=options["interval"], max_ticks=1 if options["once"] else None)
