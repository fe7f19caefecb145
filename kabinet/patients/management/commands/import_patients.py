"""`manage.py import_patients FILE --org SLUG [--dry-run] [--map column=field ...]`: import a patient list now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kabinet.core.exceptions import Invalid
from kabinet.core.models import Organisation
from kabinet.patients import importing


class Command(BaseCommand):
    help = "Import patients from a CSV or XLSX file into an organisation (as the system; audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV (UTF-8 or Windows-1251; , ; or tab) or XLSX file")
        parser.add_argument("--org", required=True, help="the organisation's short name (slug)")
        parser.add_argument("--dry-run", action="store_true", help="show what would happen, change nothing")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help=f"column of the file to a field ({', '.join(importing.FIELDS)}); replaces the suggested mapping",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["org"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the short name {options['org']!r}.")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        mapping: dict[str, str] | None = None
        if options["map"]:
            mapping = {}
            for pair in options["map"]:
                column, sep, target = pair.partition("=")
                if not sep:
                    raise CommandError(f"--map wants COLUMN=FIELD, got {pair!r}")
                mapping[column.strip()] = target.strip()
        try:
            with path.open("rb") as handle:
                job = importing.patient_import_start(
                    actor=None,
                    organisation=organisation,
                    file=File(handle, name=path.name),
                    mapping=mapping,
                    dry_run=options["dry_run"],
                    enqueue=False,  # run here, now: no worker needed
                )
        except Invalid as exc:
            messages = [m for values in exc.errors.values() for m in values] or [str(exc.message)]
            raise CommandError(" ".join(str(m) for m in messages)) from exc
        self.stdout.write("Columns: " + ", ".join(f"{column} -> {name}" for column, name in job.mapping.items()))
        job = importing.patient_import_run(job.pk)
        counts = ", ".join(f"{name} {value}" for name, value in job.counts().items())
        self.stdout.write(f"{'Dry run: ' if job.dry_run else ''}{counts} (job {job.pk})")
        for row in job.error_rows[:20]:
            self.stdout.write(f"  line {row['line']} ({row['outcome']}): {' '.join(row['problems'])}")
        if len(job.error_rows) > 20:
            self.stdout.write(f"  … and {len(job.error_rows) - 20} more rows with problems")
