"""`manage.py seed_demo`: create (or complete) the demo clinic and print its logins."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from kabinet.demo.seed import seed


class Command(BaseCommand):
    help = "Create the demo clinic (idempotent) and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed()
        self.stdout.write(
            f"Demo clinic “{result.organisation.name}”: {result.patients_added} patients added "
            f"({result.organisation.patients.count()} in all)."
        )
        self.stdout.write(f"Demo logins (password for all: {settings.DEMO_PASSWORD}):")
        for email, name, roles in result.logins:
            self.stdout.write(f"  {email:<32} {roles:<40} {name}")
