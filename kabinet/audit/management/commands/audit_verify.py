"""`manage.py audit_verify`: recompute the audit hash chain; exit status 1 when it was tampered with."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kabinet.audit.models import AuditEvent
from kabinet.audit.services import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = verify_chain()
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"audit chain broken: {len(problems)} problem(s)")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {AuditEvent.objects.count()} events"))
