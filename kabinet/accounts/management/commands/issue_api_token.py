"""`manage.py issue_api_token <email-or-phone>`: create a personal API token and print it once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kabinet.accounts.models import User
from kabinet.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (it is not shown again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("login", help="the user's email or phone")
        parser.add_argument("--name", default="command line", help="a name to recognise the token by")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.get_by_login(options["login"])
        if user is None or not user.is_active:
            raise CommandError("No active user with that email or phone.")
        _, raw = api_token_create(user=user, name=options["name"])
        self.stdout.write(raw)
