"""`manage.py notifications_bounce [FILE|MAILDIR ...]`: read bounces and mark their messages bounced.

Pipe one mail from the mail server (Postfix: `bounces: "|/srv/kabinet/.venv/bin/python /srv/kabinet/manage.py
notifications_bounce --recipient ${recipient}"`, with `recipient_delimiter = +`), or name files and Maildir
folders to read (a Maildir's processed mails are moved from new/ to cur/).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kabinet.notifications.bounces import bounce_receive


class Command(BaseCommand):
    help = "Read bounce mails (stdin, files or Maildir folders) and mark the messages they report as bounced."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", help="mail files or Maildir folders; none: one mail from stdin")
        parser.add_argument("--recipient", default="", help="the envelope recipient (the VERP address), if known")

    def handle(self, *args: Any, paths: list[str], recipient: str, **options: Any) -> None:
        matched = total = 0
        if not paths:
            total, matched = 1, int(bounce_receive(sys.stdin.buffer.read(), recipient=recipient) is not None)
        for name in paths:
            path = Path(name)
            if (path / "new").is_dir():
                for mail in sorted((path / "new").iterdir()):
                    total += 1
                    matched += bounce_receive(mail.read_bytes()) is not None
                    mail.rename(path / "cur" / f"{mail.name}:2,S")
            elif path.is_file():
                total += 1
                matched += bounce_receive(path.read_bytes(), recipient=recipient) is not None
            else:
                raise CommandError(f"{name}: not a file or a Maildir folder")
        self.stdout.write(f"{total} mail(s) read, {matched} matched to messages")
