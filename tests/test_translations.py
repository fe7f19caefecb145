"""The Russian and Bulgarian catalogues are complete, compile, and are what the pages show.

`make test` compiles the catalogues before pytest; .mo files are not committed, so the fixture below compiles
them when they are missing or older than the .po files (e.g. a plain `pytest` right after a checkout).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.signals import setting_changed
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

LANGUAGES = ("ru", "bg")
LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
PLACEHOLDER = re.compile(r"%(?:\([A-Za-z_]\w*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrx%]")
CYRILLIC = re.compile(r"[А-Яа-яЁёЪъЬь]")


def catalogue(language: str, suffix: str = "po") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"django.{suffix}"


@dataclass
class Entry:
    """One message of a .po file: its flags, context, ids and translations (msgstr or msgstr[n], in order)."""

    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        context = f"[{self.msgctxt}] " if self.msgctxt is not None else ""
        return f"line {self.line}: {context}{self.msgid!r}"


def parse_po(path: Path) -> list[Entry]:
    """The messages of a .po file, header included, obsolete (#~) ones left out. Only the stdlib is needed."""
    entries: list[Entry] = []
    current: Entry | None = None
    last = ""  # the keyword that continuation lines ("...") extend
    for line_no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        keyword, _, rest = line.partition(" ")
        starts_entry = line.startswith("#") or keyword in ("msgctxt", "msgid")
        if current is not None and current.msgstr and starts_entry:
            entries.append(current)
            current = None
        if current is None:
            current = Entry(line=line_no)
        if line.startswith("#"):
            if line.startswith("#,"):
                current.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith('"'):
            assert last, f"{path}:{line_no}: continuation line outside a message"
            keyword, rest = last, line
        elif keyword.startswith("msgstr"):
            current.msgstr.append("")
        last = keyword
        value = ast.literal_eval(rest)
        assert isinstance(value, str), f"{path}:{line_no}: not a string"
        if keyword == "msgctxt":
            current.msgctxt = (current.msgctxt or "") + value
        elif keyword == "msgid":
            current.msgid += value
        elif keyword == "msgid_plural":
            current.msgid_plural = (current.msgid_plural or "") + value
        elif keyword.startswith("msgstr"):
            current.msgstr[-1] += value
        else:
            raise AssertionError(f"{path}:{line_no}: unknown keyword {keyword!r}")
    if current is not None and (current.msgid or current.msgstr):
        entries.append(current)
    return entries


def messages(language: str) -> list[Entry]:
    path = catalogue(language)
    assert path.is_file(), f"{path} is missing: run makemessages -l {language}"
    entries = parse_po(path)
    assert entries and entries[0].msgid == "", f"{path} has no header"
    return entries


@pytest.fixture(scope="session")
def compiled_catalogues() -> Iterator[None]:
    """Compile ru/bg when a .mo is missing or older than its .po, then drop Django's cached catalogues."""
    stale = [
        language
        for language in LANGUAGES
        if not catalogue(language, "mo").is_file()
        or catalogue(language, "mo").stat().st_mtime < catalogue(language).stat().st_mtime
    ]
    if stale:
        with contextlib.chdir(settings.BASE_DIR):
            call_command(
                "compilemessages", locale=stale, ignore_patterns=[".venv", "var", ".git", "node_modules"], verbosity=0
            )
        # Django caches a catalogue once loaded; this is how it drops them when LOCALE_PATHS changes in tests.
        setting_changed.send(sender=None, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=False)
    yield


# --- (a) the catalogues are complete ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language: str) -> None:
    entries = messages(language)
    problems = []
    if "fuzzy" in entries[0].flags:
        problems.append("the header is marked fuzzy")
    for entry in entries[1:]:
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.label}")
        elif not entry.msgstr or any(not text for text in entry.msgstr):
            problems.append(f"untranslated: {entry.label}")
    assert not problems, f"{catalogue(language)} needs work ({len(problems)}):\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    problems = []
    for entry in messages(language)[1:]:
        sources = [entry.msgid] if entry.msgid_plural is None else [entry.msgid, entry.msgid_plural]
        expected = {p for source in sources for p in PLACEHOLDER.findall(source) if p != "%%"}
        for text in entry.msgstr:
            found = {p for p in PLACEHOLDER.findall(text) if p != "%%"}
            # A singular form may drop the number (e.g. "one file" for %(count)s), but never invent a placeholder.
            if found - expected or (entry.msgid_plural is None and found != expected):
                problems.append(f"{entry.label}: {sorted(expected)} became {sorted(found)} in {text!r}")
    assert not problems, "\n".join(problems)


def test_the_header_declares_language_and_plural_forms() -> None:
    plural_counts = {"ru": 4, "bg": 2}
    for language in LANGUAGES:
        header = messages(language)[0].msgstr[0]
        assert f"Language: {language}\n" in header
        assert "charset=UTF-8" in header
        match = re.search(r"Plural-Forms: nplurals=(\d+);", header)
        assert match and int(match.group(1)) == plural_counts[language], header
        for entry in messages(language)[1:]:
            if entry.msgid_plural is not None:
                assert len(entry.msgstr) == plural_counts[language], entry.label


# --- (b) the compiled catalogues are used ----------------------------------------------------------------------

UI_STRINGS = ("Log in", "Log out", "Password", "Dashboard", "Audit log", "Two-factor authentication")


@functools.cache
def translated(language: str, msgid: str) -> str:
    """The translation the .po file has for `msgid` (no context, singular)."""
    for entry in messages(language):
        if entry.msgid == msgid and entry.msgctxt is None and entry.msgid_plural is None:
            return entry.msgstr[0]
    raise AssertionError(f"{msgid!r} is not in {catalogue(language)}: run makemessages")


@pytest.mark.parametrize("language", LANGUAGES)
def test_ui_strings_come_out_translated(compiled_catalogues: None, language: str) -> None:
    with translation.override(language):
        for text in UI_STRINGS:
            result = gettext(text)
            assert result != text, f"{text!r} is not translated into {language}"
            assert CYRILLIC.search(result), f"{text!r} → {result!r} in {language}"
            # Django's own catalogues translate some of these too ("Log in" for the admin): ours must win.
            assert result == translated(language, text), f"{text!r} does not come from kabinet's {language} catalogue"


def test_bulgarian_is_not_russian(compiled_catalogues: None) -> None:
    for text in ("Password", "Log out", "Doctor", "Dashboard"):
        with translation.override("ru"):
            russian = gettext(text)
        with translation.override("bg"):
            bulgarian = gettext(text)
        assert russian != bulgarian, f"{text!r} is {russian!r} in both languages"


# --- (c) the pages follow the language cookie ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["bg", "ru"])
def test_login_page_follows_the_language_cookie(compiled_catalogues: None, language: str) -> None:
    heading, password = translated(language, "Log in"), translated(language, "Password")
    assert heading != "Log in"
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert f"<h1>{heading}</h1>" in html
    assert password in html
    assert "<h1>Log in</h1>" not in html
