"""Messages staff write to patients they chose (from the search results or a patient card): preview and send.

Rules enforced here:
- Only the roles that talk to patients at the desk (MESSAGE_ROLES) may send, and only to patients of their own
  organisation: an id of another clinic's patient is "not found", whatever else was chosen.
- One send is one transaction: a message per patient per chosen channel, or nothing. Each send carries a key made
  when the form was shown, so a double submit (or a retried request) finds the rows of the first and writes nothing.
- A channel without an address for a patient is left out for that patient; a malformed address gives an `invalid`
  row that is never sent (see services.schedule).
- Free text may use the patient's name (`{{ patient.first_name }}`…); anything else is refused before sending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.core import permissions
from kabinet.core.exceptions import Invalid, NotFound
from kabinet.core.models import Organisation, Role
from kabinet.notifications import events, providers, rendering, services
from kabinet.notifications.models import Channel, Message
from kabinet.patients.models import Patient

MESSAGE_ROLES = (Role.ADMIN, Role.REGISTRAR, Role.OPERATOR, Role.COORDINATOR)
MAX_CHOSEN = 500
# What a message to a chosen patient may say about them (and what the clinic's own wording of the event may read).
PATIENT_VARIABLES = frozenset({"patient.name", "patient.first_name", "clinic.name", "links.portal"})
FREE_TEXT_VARIABLES = PATIENT_VARIABLES | {"subject", "text"}
DEFAULT_EVENT = "message.custom"
SEND_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def may_send(user: Any, organisation: Organisation | None) -> bool:
    return permissions.has_role(user, organisation, *MESSAGE_ROLES)


def channel_choices() -> list[tuple[str, str]]:
    """The channels configured here (SMS only with SMS_URL, push only with VAPID keys)."""
    return [(c.value, str(c.label)) for c in Channel if providers.available(c.value)]


def event_choices() -> list[tuple[str, str]]:
    """Events whose wording needs nothing but the patient and the free text: the clinic's templates for them."""
    return [(e.key, str(e.label)) for e in events.all_events() if e.variables <= FREE_TEXT_VARIABLES]


def patient_context(organisation: Organisation, patient: Patient) -> dict[str, Any]:
    return {
        "patient": {"name": str(patient), "first_name": patient.given_name},
        "clinic": {"name": organisation.name},
        "links": {"portal": settings.SITE_URL.rstrip("/") + "/my/"},
    }


def chosen_patients(*, actor: Any, organisation: Organisation, patient_ids: Iterable[Any]) -> list[Patient]:
    """The chosen patients of the organisation, by name; NotFound when any id is not one of them."""
    permissions.require_role(actor, organisation, *MESSAGE_ROLES)
    try:
        ids = sorted({int(pk) for pk in patient_ids})
    except (TypeError, ValueError):
        raise NotFound() from None
    if not ids:
        raise Invalid(errors={"patients": [_("Choose at least one patient.")]}, code="no_patients")
    if len(ids) > MAX_CHOSEN:
        raise Invalid(
            errors={"patients": [_("Choose at most %(n)s patients; use a campaign for more.") % {"n": MAX_CHOSEN}]},
            code="too_many_patients",
        )
    patients = list(Patient.objects.filter(organisation=organisation, pk__in=ids).select_related("user"))
    if len(patients) != len(ids):
        raise NotFound()
    return sorted(patients, key=lambda p: (p.family_name, p.given_name, p.pk))


@dataclass(frozen=True)
class Draft:
    channels: tuple[str, ...]
    event: str
    subject: str
    text: str


def check_draft(*, channels: Sequence[str], event: str, subject: str, text: str) -> Draft:
    errors: dict[str, list[str]] = {}
    chosen = tuple(dict.fromkeys(c for c in channels))
    allowed = {value for value, _label in channel_choices()}
    if not chosen:
        errors["channels"] = [_("Choose at least one channel.")]
    elif not set(chosen) <= allowed:
        errors["channels"] = [_("This channel is not set up here.")]
    if event not in {key for key, _label in event_choices()}:
        errors["event"] = [_("Choose a template from the list.")]
    if event == DEFAULT_EVENT and not text.strip():
        errors["text"] = [_("Write the text of the message.")]
    if event == DEFAULT_EVENT and Channel.EMAIL in chosen and not subject.strip():
        errors["subject"] = [_("Write a subject for the email.")]
    for name, source in (("subject", subject), ("text", text)):
        if source:
            try:
                rendering.check_variables([source], set(PATIENT_VARIABLES))
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.messages)
    if errors:
        raise Invalid(errors=errors, code="bad_message")
    return Draft(channels=chosen, event=event, subject=subject.strip(), text=text.strip())


def _context(organisation: Organisation, patient: Patient, draft: Draft) -> dict[str, Any]:
    """The patient's variables, and the free text with them filled in (it may greet the patient by name)."""
    context = patient_context(organisation, patient)
    own = rendering.render(
        subject=draft.subject,
        body=draft.text or " ",
        html="",
        context=context,
        language=patient.language or organisation.default_language,
        zone=settings.TIME_ZONE,
    )
    return {**context, "subject": own.subject, "text": own.body}


@dataclass(frozen=True)
class PreviewPart:
    channel: str
    channel_label: str
    address: str
    rendered: rendering.Rendered


def preview(*, actor: Any, organisation: Organisation, patient: Patient, draft: Draft) -> list[PreviewPart]:
    """The message as `patient` would get it on each chosen channel, in their language."""
    permissions.require_role(actor, organisation, *MESSAGE_ROLES)
    if patient.organisation_id != organisation.pk:
        raise NotFound()
    language = patient.language or organisation.default_language
    context = _context(organisation, patient, draft)
    parts = []
    for channel in draft.channels:
        subject, body, html, _own = services.template_effective(organisation.pk, draft.event, channel, language)
        rendered = rendering.render(
            subject=subject, body=body, html=html, context=context, language=language, zone=settings.TIME_ZONE
        )
        address = services._address(channel, patient, patient.user)
        parts.append(PreviewPart(channel, str(Channel(channel).label), address, rendered))
    return parts


@dataclass(frozen=True)
class SendResult:
    patients: int
    messages: int
    invalid: int
    unreachable: int  # patients with no address on any chosen channel
    repeated: bool  # the key was used before: nothing new was written


def send(
    *, actor: Any, organisation: Organisation, patient_ids: Iterable[Any], draft: Draft, send_key: str
) -> SendResult:
    """One message per chosen patient per chosen channel, all or nothing, once per `send_key`."""
    patients = chosen_patients(actor=actor, organisation=organisation, patient_ids=patient_ids)
    if not SEND_KEY.match(send_key or ""):
        raise Invalid(errors={"send_key": [_("Reload the page and send again.")]}, code="bad_send_key")
    prefix = f"chosen:{send_key}:"
    with transaction.atomic():
        earlier = list(
            Message.objects.filter(organisation=organisation, idempotency_key__startswith=prefix).values_list(
                "state", flat=True
            )
        )
        if earlier:
            return SendResult(
                patients=len(patients),
                messages=len(earlier),
                invalid=sum(1 for s in earlier if s == Message.State.INVALID),
                unreachable=0,
                repeated=True,
            )
        written: list[Message] = []
        unreachable = 0
        for patient in patients:
            rows = services.schedule(
                organisation=organisation,
                event=draft.event,
                key=f"{prefix}{patient.pk}",
                context=_context(organisation, patient, draft),
                patient=patient,
                channels=draft.channels,
                quiet_hours=False,  # a person chose to send it now
                ref_type="chosen",
                ref_id=send_key,
                actor=actor,
            )
            unreachable += 0 if rows else 1
            written.extend(rows)
            record(
                actor=actor,
                action="notifications.message_to_patient",
                object_type="notifications.message",
                object_id=send_key,
                organisation=organisation,
                patient=patient,
                after={
                    "event": draft.event,
                    "channels": list(draft.channels),
                    "messages": [m.pk for m in rows],
                    "subject": draft.subject,
                },
            )
    return SendResult(
        patients=len(patients),
        messages=len(written),
        invalid=sum(1 for m in written if m.state == Message.State.INVALID),
        unreachable=unreachable,
        repeated=False,
    )
