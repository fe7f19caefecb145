"""Message templates: a locked-down Django template engine, the check of their variables, and rendering in the
recipient's language and the visit's time zone."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Lexer, Parser, TokenType, Variable
from django.utils import translation
from django.utils.formats import date_format
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

# No loaders (so no {% include %}/{% extends %} of files), no {% load %}able libraries: a clinic's template can use
# variables, the built-in filters and {% if %}, nothing that reaches outside the message.
ENGINE = Engine(dirs=[], app_dirs=False, libraries={}, debug=False, string_if_invalid="", autoescape=True)
ALLOWED_TAGS = {"if", "elif", "else", "endif", "comment", "endcomment"}
IF_OPERATORS = {"and", "or", "not", "in", "is", "==", "!=", "<", ">", "<=", ">="}


class Translated:
    """A value with a version per language (e.g. a service name); renders in the active language."""

    def __init__(self, versions: Mapping[str, str]):
        self.versions = {k: v for k, v in versions.items() if v}

    def __str__(self) -> str:
        language = (translation.get_language() or "en")[:2]
        return self.versions.get(language) or self.versions.get("en") or next(iter(self.versions.values()), "")


class Moment:
    """A point in time shown in a zone, formatted in the active language: `{{ time }}`, `{{ time.date }}`,
    `{{ time.time }}`, `{{ time.weekday }}`."""

    def __init__(self, value: datetime, zone: tzinfo):
        self.value = value.astimezone(zone)

    @property
    def date(self) -> str:
        return date_format(self.value, "DATE_FORMAT")

    @property
    def time(self) -> str:
        return date_format(self.value, "H:i")  # 24-hour in every language: "10 a.m." / "noon" read badly in an SMS

    @property
    def weekday(self) -> str:
        return date_format(self.value, "l")

    def __str__(self) -> str:
        return f"{self.date}, {self.time}"


MOMENT_PARTS = ("date", "time", "weekday")


def moment_variables(name: str) -> set[str]:
    return {name, *(f"{name}.{part}" for part in MOMENT_PARTS)}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    html: str


def _variable_names(expression: FilterExpression) -> list[str]:
    names = []
    candidates: list[Any] = [expression.var]
    for _func, args in expression.filters:
        candidates.extend(arg for _is_var, arg in args)
    for candidate in candidates:
        if isinstance(candidate, Variable) and candidate.lookups is not None:
            names.append(".".join(candidate.lookups))
    return names


def used_variables(source: str) -> set[str]:
    """The variables a template reads. Raises ValidationError for a syntax error or a tag that is not allowed."""
    try:
        ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise ValidationError(_("The template has an error: %(error)s") % {"error": exc}, code="syntax") from exc
    parser = Parser([], ENGINE.template_libraries, ENGINE.template_builtins)
    names: set[str] = set()
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.VAR:
            names.update(_variable_names(FilterExpression(token.contents, parser)))
        elif token.token_type == TokenType.BLOCK:
            bits = token.split_contents()
            if bits[0] not in ALLOWED_TAGS:
                raise ValidationError(
                    _("The tag “%(tag)s” cannot be used in messages; use variables and “if”.") % {"tag": bits[0]},
                    code="tag",
                )
            if bits[0] in ("if", "elif"):
                for bit in bits[1:]:
                    if bit not in IF_OPERATORS:
                        names.update(_variable_names(FilterExpression(bit, parser)))
    return names


def check_variables(sources: Iterable[str], allowed: set[str]) -> None:
    """Refuse templates that read variables the event does not provide (a typo would render as nothing)."""
    unknown: set[str] = set()
    for source in sources:
        unknown |= used_variables(source) - allowed
    if unknown:
        raise ValidationError(
            _("Unknown variables: %(names)s. Available: %(allowed)s.")
            % {"names": ", ".join(sorted(unknown)), "allowed": ", ".join(sorted(allowed))},
            code="unknown_variable",
        )


def prepare_context(context: Mapping[str, Any], zone: tzinfo) -> dict[str, Any]:
    """Datetimes become Moments in `zone`; nested dicts are prepared the same way."""
    prepared: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(value, datetime):
            prepared[key] = Moment(value, zone)
        elif isinstance(value, Mapping):
            prepared[key] = prepare_context(value, zone)
        else:
            prepared[key] = value
    return prepared


@lru_cache(maxsize=512)
def compiled(source: str) -> Template:
    """A template compiled once: a campaign renders the same wording for thousands of recipients (compiled
    templates keep no per-render state, so sharing them is safe)."""
    return ENGINE.from_string(source)


def render(
    *, subject: str, body: str, html: str, context: Mapping[str, Any], language: str, zone: tzinfo | str
) -> Rendered:
    """Render the three parts in `language`; text parts are not HTML-escaped, the HTML part is."""
    if isinstance(zone, str):
        zone = zoneinfo.ZoneInfo(zone)
    data = prepare_context(context, zone)
    with translation.override(language):
        text_subject = compiled(subject).render(Context(data, autoescape=False)).strip() if subject else ""
        text_subject = " ".join(text_subject.split())  # one line: a header cannot hold a newline
        text_body = compiled(body).render(Context(data, autoescape=False)).strip()
        html_body: str
        if html:
            html_body = compiled(html).render(Context(data, autoescape=True))
        else:
            html_body = email_html(text_subject, text_body)
    return Rendered(subject=text_subject, body=text_body, html=html_body)


def email_html(subject: str, text: str) -> str:
    """A plain, readable HTML part made from the text part (links stay as text; mail clients link them)."""
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>'
        + escape(subject)
        + '</title></head><body style="font-family:sans-serif;line-height:1.5;max-width:40em">'
        + linebreaks(escape(text))
        + "</body></html>"
    )
