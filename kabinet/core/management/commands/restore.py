"""`manage.py restore FILE`: put back the database and uploaded files of a `manage.py backup` archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kabinet.core.backups import BackupError, Database, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup`: every part is checked against the manifest first; then the "
        "database and MEDIA_ROOT are replaced. Stop the web and worker processes before restoring in place."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The .tar.gz written by `manage.py backup`.")
        parser.add_argument(
            "--database-url",
            default="",
            help="Restore into this database instead of DATABASE_URL's (e.g. a scratch database to test a backup).",
        )
        parser.add_argument("--media-root", default="", help="Restore the uploaded files here instead of MEDIA_ROOT.")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="Do not ask for confirmation."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        database = Database.from_url(options["database_url"]) if options["database_url"] else Database.default()
        if options["interactive"]:
            answer = input(f"This replaces the data of {database.engine} database {database.name!r}. Type 'yes': ")
            if answer.strip().lower() != "yes":
                raise CommandError("Restore cancelled.")
        try:
            manifest = backup_restore(
                archive_path=Path(options["file"]),
                database=database,
                media_root=Path(options["media_root"]) if options["media_root"] else None,
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        media = manifest["parts"]["media"]
        self.stdout.write(
            self.style.SUCCESS(
                f"restored the backup of {manifest['created_at']} ({manifest['engine']}, {media['files']} files). "
                "Run `manage.py migrate` if this version is newer, then `manage.py audit_verify`."
            )
        )
