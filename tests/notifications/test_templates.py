"""Message templates: unknown variables and foreign tags cannot be saved, previews render a sample in the chosen
language, a clinic's own wording is used for its next messages, and only administrators edit them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from kabinet.audit.models import AuditEvent
from kabinet.core.exceptions import Invalid, NotAllowed
from kabinet.notifications import rendering, services
from kabinet.notifications.models import MessageTemplate
from tests.factories import PatientFactory


def test_variables_used_by_a_template_are_found_in_output_filters_and_conditions() -> None:
    source = "{{ patient.name|upper }} {% if time.date %}{{ time.time|default:reason }}{% endif %}{# {{ no }} #}"
    assert rendering.used_variables(source) == {"patient.name", "time.date", "time.time", "reason"}


def test_unknown_variables_and_foreign_tags_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"patient\.nmae"):
        rendering.check_variables(["Hello {{ patient.nmae }}"], {"patient.name"})
    for source in ('{% include "base.html" %}', "{% load static %}", "{% for x in y %}{% endfor %}", "{% debug %}"):
        with pytest.raises(ValidationError):
            rendering.used_variables(source)
    with pytest.raises(ValidationError, match="error"):
        rendering.used_variables("{% if %}")


@pytest.mark.django_db
def test_saving_a_template_with_an_unknown_variable_fails_and_nothing_is_saved(org, admin_user) -> None:
    with pytest.raises(Invalid) as refused:
        services.template_save(
            actor=admin_user,
            organisation=org,
            event="appointment.reminder",
            channel="sms",
            language="en",
            subject="",
            body="See you at {{ time.time }}, {{ patient.nickname }}!",
        )
    assert "patient.nickname" in str(refused.value.errors["body"])
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_a_saved_template_is_audited_and_used_for_the_next_message(org, admin_user, settings, no_quiet_hours) -> None:
    settings.SMS_URL = "console://"
    services.template_save(
        actor=admin_user,
        organisation=org,
        event="message.custom",
        channel="sms",
        language="bg",
        subject="",
        body="{{ clinic.name }}: {{ text }} (наш текст)",
    )
    assert AuditEvent.objects.filter(action="notifications.template_saved").count() == 1
    patient = PatientFactory.create(organisation=org, phone="+359888123456", language="bg")
    [message] = services.schedule(
        organisation=org,
        event="message.custom",
        key="t1",
        context={"text": "Hi", "subject": "S", "clinic": {"name": "Alpha"}},
        patient=patient,
    )
    assert message.body == "Alpha: Hi (наш текст)"
    services.template_reset(actor=admin_user, organisation=org, event="message.custom", channel="sms", language="bg")
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_only_administrators_may_change_templates(org, registrar) -> None:
    with pytest.raises(NotAllowed):
        services.template_save(
            actor=registrar,
            organisation=org,
            event="message.custom",
            channel="sms",
            language="en",
            subject="",
            body="x",
        )


@pytest.mark.django_db
def test_template_pages_edit_preview_and_refuse(org, admin_user, registrar, outsider, login_client) -> None:
    admin = login_client(admin_user)
    listing = admin.get("/notifications/templates/")
    assert listing.status_code == 200 and "Visit reminder" in listing.content.decode()
    url = "/notifications/templates/appointment.reminder/sms/ru/"
    page = admin.get(url)
    assert page.status_code == 200 and "напоминаем" in page.content.decode()

    preview = admin.post(url + "preview/", {"subject": "", "body": "{{ patient.first_name }}, {{ time.weekday }}"})
    assert preview.status_code == 200 and "Anna" in preview.content.decode()
    bad_preview = admin.post(url + "preview/", {"subject": "", "body": "{{ doctor.phone }}"})
    assert "doctor.phone" in bad_preview.content.decode()

    refused = admin.post(url, {"subject": "", "body": "Hi {{ patient.nickname }}"})
    assert refused.status_code == 200 and "patient.nickname" in refused.content.decode()
    assert not MessageTemplate.objects.exists()
    saved = admin.post(url, {"subject": "", "body": "Ждём вас {{ time.date }} в {{ time.time }}"})
    assert saved.status_code == 302
    assert MessageTemplate.objects.get().body.startswith("Ждём вас")

    assert login_client(registrar).get("/notifications/templates/").status_code == 403
    assert login_client(registrar).post(url, {"body": "x"}).status_code == 403
    assert login_client(outsider).get(url).status_code == 200  # their own clinic's template, not ours
    assert MessageTemplate.objects.get(organisation=org).body.startswith("Ждём вас")
    assert admin.get("/notifications/templates/nope/sms/ru/").status_code == 404


@pytest.mark.django_db
def test_reminder_settings_page_saves_offsets_and_quiet_hours(org, admin_user, registrar, login_client) -> None:
    admin = login_client(admin_user)
    response = admin.post(
        "/notifications/settings/",
        {"reminder_offsets": "120, 1440, 30", "quiet_hours_start": "22:00", "quiet_hours_end": "07:30"},
    )
    assert response.status_code == 302
    policy = services.reminder_policy(org.pk)
    assert policy.reminder_offsets == [1440, 120, 30] and str(policy.quiet_hours_end) == "07:30:00"
    assert not policy.send_confirmations  # unchecked box
    bad = admin.post("/notifications/settings/", {"reminder_offsets": "0", "quiet_hours_start": "22:00"})
    assert bad.status_code == 200 and services.reminder_policy(org.pk).reminder_offsets == [1440, 120, 30]
    assert login_client(registrar).get("/notifications/settings/").status_code == 403
