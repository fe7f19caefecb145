"""Templates rendered to PDF with WeasyPrint in the patient's language; the text read back with pdftotext."""

from __future__ import annotations

import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from kabinet.records import services
from kabinet.records.models import DocumentKind, DocumentTemplate
from kabinet.records.rendering import TemplateProblem, check_template, render_body
from tests.records.helpers import current

pytestmark = pytest.mark.django_db


def _text(document) -> str:
    with default_storage.open(document.current_version.file.name) as handle:
        pdf = handle.read()
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_a_consent_for_a_russian_speaking_patient_is_in_russian_with_cyrillic_text(rec) -> None:
    document = services.document_create_from_template(
        actor=rec.doctor,
        patient=rec.patient,  # language "ru"
        template=rec.consent,
        fields={"procedure": "Контурная пластика губ", "risks": "Отёк\nСиняки"},
        title="Согласие на процедуру",
    )
    text = _text(document)
    assert "Согласие на процедуру" in text
    assert "Я, Patient Petya, согласен(на) на процедуру" in text
    assert "«Контурная пластика губ»" in text and "Синяки" in text
    assert "04.03.1985" in text  # the birth date in the Russian short format
    assert rec.org.name in text and "Dr Dana" in text


def test_the_same_template_renders_in_english_for_an_english_speaking_patient(rec) -> None:
    document = services.document_create_from_template(
        actor=rec.doctor, patient=rec.other_patient, template=rec.consent, fields={"procedure": "Fillers"}
    )
    text = _text(document)
    assert 'I, Smith John, agree to the procedure "Fillers"' in text
    assert "Page 1 / 1" in text and "Version 1" in text


def test_fields_the_body_does_not_place_are_printed_as_a_table(rec) -> None:
    template = DocumentTemplate.objects.create(
        organisation=rec.org,
        kind=DocumentKind.PROCEDURE_PROTOCOL,
        name="Protocol",
        body="<p>Протокол процедуры</p>",
        fields=[
            {"name": "dose", "label": "Доза, мл", "type": "number"},
            {"name": "ok", "label": "Без осложнений", "type": "checkbox"},
        ],
    )
    document = services.document_create_from_template(
        actor=rec.doctor, patient=rec.patient, template=template, fields={"dose": "1,5", "ok": True}
    )
    assert current(document).fields == {"dose": 1.5, "ok": True}
    text = _text(document)
    assert "Доза, мл" in text and "1.5" in text and "Без осложнений" in text


def test_templates_see_plain_data_only_and_load_nothing(rec) -> None:
    context = {"patient": {"full_name": "A"}, "fields": {}}
    assert render_body("{{ patient.user.password }}|{{ settings.SECRET_KEY }}", context, "en") == "|"
    with pytest.raises(TemplateProblem):
        check_template('{% include "base.html" %}{% if %}', [])
    with pytest.raises(TemplateProblem):
        check_template("<p>ok</p>", [{"name": "Bad Name", "label": "x"}])
    with pytest.raises(ValidationError):
        DocumentTemplate(organisation=rec.org, kind="other", name="x", body="{% for %}").full_clean()


def test_a_template_cannot_make_the_server_fetch_an_address(rec, monkeypatch) -> None:
    fetched: list[str] = []
    import urllib.request

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", lambda self, url, *a, **k: fetched.append(str(url)))
    template = DocumentTemplate.objects.create(
        organisation=rec.org,
        kind=DocumentKind.OTHER,
        name="Sneaky",
        body='<img src="http://127.0.0.1:9/x.png"><link rel="stylesheet" href="file:///etc/passwd">',
    )
    services.document_create_from_template(actor=rec.doctor, patient=rec.patient, template=template, fields={})
    assert fetched == []
