"""Document templates: checking a clinic's template, rendering it for a patient, and printing the HTML to PDF.

Clinic templates are Django templates written by clinic administrators. They run in a separate engine that can
load no other template and sees only plain data (names, dates, field values) — never model instances, so a
template cannot reach a password hash or another patient through an attribute. The PDF is made by WeasyPrint,
which may load nothing from outside (data: URIs only): a template cannot make the server fetch an address.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

FIELD_TYPES = {
    "text": gettext_lazy("text"),
    "textarea": gettext_lazy("several lines"),
    "date": gettext_lazy("date"),
    "number": gettext_lazy("number"),
    "checkbox": gettext_lazy("checkbox"),
}
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 40

_ENGINE = Engine(
    loaders=[],  # {% include %} and {% extends %} find nothing
    libraries={"i18n": "django.templatetags.i18n", "l10n": "django.templatetags.l10n", "tz": "django.templatetags.tz"},
    autoescape=True,
    debug=False,
    string_if_invalid="",
)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str = "text"
    required: bool = False


class TemplateProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


def field_specs(raw: Any) -> list[FieldSpec]:
    """The template's field list, checked: unique lower-case names, a label, a known type."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > MAX_FIELDS:
        raise TemplateProblem("fields", _("Fields must be a list of at most %(n)s items.") % {"n": MAX_FIELDS})
    specs: list[FieldSpec] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise TemplateProblem("fields", _("Each field needs a name and a label."))
        name = str(item.get("name", ""))
        label = str(item.get("label", "")).strip() or name
        kind = str(item.get("type", "text"))
        if not FIELD_NAME.match(name) or name in seen:
            raise TemplateProblem(
                "fields",
                _("Field names are unique lower-case words (letters, digits, _): %(name)s") % {"name": name or "—"},
            )
        if kind not in FIELD_TYPES:
            raise TemplateProblem("fields", _("Unknown field type: %(type)s") % {"type": kind})
        seen.add(name)
        specs.append(FieldSpec(name=name, label=label[:200], type=kind, required=bool(item.get("required"))))
    return specs


def check_template(body: str, fields: Any) -> None:
    """Raise TemplateProblem when the body does not compile or the field list is malformed."""
    field_specs(fields)
    try:
        _ENGINE.from_string(body or "")
    except TemplateSyntaxError as exc:
        raise TemplateProblem("body", _("The template has an error: %(error)s") % {"error": exc}) from exc


def _typed(specs: list[FieldSpec], values: dict[str, Any]) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    for spec in specs:
        value = values.get(spec.name)
        if spec.type == "date" and isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value)
        if spec.type == "checkbox":
            value = bool(value)
        typed[spec.name] = "" if value is None else value
    return typed


def template_context(
    *,
    patient: Any,
    organisation: Any,
    author: Any,
    author_title: str,
    specs: list[FieldSpec],
    values: dict[str, Any],
    language: str,
    title: str,
) -> dict[str, Any]:
    """What a clinic template sees: plain values only."""
    return {
        "patient": {
            "full_name": str(patient),
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "middle_name": patient.middle_name,
            "birth_date": patient.birth_date,
            "age": patient.age(),
            "sex": patient.get_sex_display(),
            "card_number": patient.card_number,
            "phone": patient.phone,
            "email": patient.email,
            "address": patient.address,
        },
        "clinic": {"name": organisation.name},
        "author": {"name": str(author) if author is not None else "", "title": author_title},
        "today": timezone.localdate(),
        "fields": _typed(specs, values),
        "language": language,
        "document": {"title": title},
    }


def render_body(body: str, context: dict[str, Any], language: str) -> str:
    with translation.override(language):
        return _ENGINE.from_string(body).render(Context(context, autoescape=True))


def render_document_pdf(
    *,
    body: str,
    context: dict[str, Any],
    language: str,
    version: int,
    field_rows: list[tuple[str, Any]],
    signature: dict[str, Any] | None = None,
) -> bytes:
    """The whole printable document (clinic and patient header, the body, signatures, page numbers) as PDF bytes,
    every label and date in `language`. `signature` (image as a data: URI, name, time) puts a signature drawn on
    the screen above the patient's signature line."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    with translation.override(language):
        html = render_to_string(
            "records/pdf/document.html",
            {
                **context,
                "body": render_body(body, context, language),
                "version": version,
                "field_rows": field_rows,
                "signature": signature,
                "LANGUAGE_CODE": language,
            },
        )
        return bytes(HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf())
