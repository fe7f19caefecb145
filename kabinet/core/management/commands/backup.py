"""`manage.py backup [--output DIR]`: the database and uploaded files in one checked .tar.gz (kabinet.core.backups)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kabinet.core.backups import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database (SQLite online backup or pg_dump) and MEDIA_ROOT into one .tar.gz with a manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            default=str(Path(settings.BASE_DIR) / "var" / "backups"),
            help="Folder for the archive (default: var/backups).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = backup_create(output_dir=Path(options["output"]))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"backup written: {path}"))
        self.stdout.write(str(path))
