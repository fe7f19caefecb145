"""Authorization (IDOR) matrix: every page and API operation that takes an object id, called by every kind of user.

The routes come from the URL configuration (a walk of `get_resolver()`) and from the OpenAPI document of /api/v1/.
Each route with a path parameter must have a line in OBJECT_ROUTES (or API_OPERATIONS) that says which object of
the shared `World` goes into the URL and which actors may reach it; a route missing there fails
`test_every_route_with_an_id_is_in_the_matrix` with its name. Routes without ids must refuse anonymous visitors
(login redirect, or 401 from the API) unless they are in PUBLIC.

Actors (see `World`): the patient who owns the data, a proxy (a relative with proxy rights), a relative without
proxy rights, another patient of the same clinic, a registrar, the treating doctor (the doctor of the patient's
visit), another doctor of the same clinic who does not treat the patient, the clinic's administrator, the
administrator of another clinic, and an anonymous visitor.

Product rule made explicit here: every staff member of a clinic (any staff role, including a doctor who has never
seen the patient) reads every patient's card, timeline and appointments of that clinic — kabinet scopes by
organisation and role, not by care relationship. Only documents narrow this: a patient's own upload is restricted
to administrators and the doctors it was sent to (the treating doctors) or shared with, and clinical documents are
hidden from the desk roles (registrar, operator, coordinator).

Adding a route: one line, e.g. `"records:detail": Rule(document, CLINICAL_READERS)`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from kabinet.accounts.models import ApiToken, User
from kabinet.accounts.services import api_token_create
from kabinet.api import api
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients import services as patient_services
from kabinet.patients.models import Patient, PatientEmail, PatientNote, PatientPhone, Relationship
from kabinet.scheduling import services as scheduling_services
from kabinet.scheduling.models import Appointment, CalendarFeed, Reason, Service, Shift, TimeOff
from tests.factories import LocationFactory, OrganisationFactory, PatientFactory, UserFactory, member

ACTORS = (
    "anonymous",
    "patient",
    "proxy",
    "relative",
    "other_patient",
    "registrar",
    "doctor",
    "other_doctor",
    "admin",
    "outsider",
)
ALL = frozenset(ACTORS)
STAFF = frozenset({"registrar", "doctor", "other_doctor", "admin"})
PATIENT_SIDE = frozenset({"patient", "proxy"})  # the patient and whoever may act for them
NOBODY: frozenset[str] = frozenset()
# Records: a patient's own upload is restricted to administrators and the doctors it went to (the treating doctor).
UPLOAD_STAFF_READERS = frozenset({"admin", "doctor"})
# Clinical documents (visit notes, results…) are read by the clinical roles of the clinic, not by the desk roles.
CLINICAL_STAFF = frozenset({"doctor", "other_doctor", "admin"})
# Patient-list imports: the roles that import (kabinet.patients.importing.IMPORT_ROLES).
IMPORTERS = frozenset({"registrar", "admin"})

MARKER = "Quillfeather"  # the owner patient's family name: no refused answer may contain it


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


PNG = _png()


@dataclass
class World:
    """Two clinics and one patient's data in the first, built once for the module."""

    org: Organisation
    other_org: Organisation
    location: Location
    service: Service
    users: dict[str, User]
    patient: Patient
    doctor: Member
    other_doctor: Member
    appointment: Appointment
    cancel_reason: Reason
    phone: PatientPhone
    email: PatientEmail
    proxy_link: Relationship
    note: PatientNote
    free_shift: Shift
    time_off: TimeOff
    feed: CalendarFeed
    feed_token: str
    token: ApiToken
    extra: dict[str, Any] = field(default_factory=dict)  # objects of apps added later (documents…)


# --- how to find the object of a route (path parameters) and its expected effect ------------------------------------

Target = Callable[[World], dict[str, Any]]


def patient(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient.pk}


def appointment(w: World) -> dict[str, Any]:
    return {"appointment_id": w.appointment.pk}


def phone(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient.pk, "phone_id": w.phone.pk}


def email(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient.pk, "email_id": w.email.pk}


def proxy_link(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient.pk, "link_id": w.proxy_link.pk}


def time_off(w: World) -> dict[str, Any]:
    return {"time_off_id": w.time_off.pk}


def feed(w: World) -> dict[str, Any]:
    return {"feed_id": w.feed.pk}


def feed_token(w: World) -> dict[str, Any]:
    return {"token": w.feed_token}


def api_token(w: World) -> dict[str, Any]:
    return {"token_id": w.token.pk}


def free_shift(w: World) -> dict[str, Any]:
    return {"shift_id": w.free_shift.pk}


def clinic_slug(w: World) -> dict[str, Any]:
    return {"slug": w.org.slug}


def booking_done(w: World) -> dict[str, Any]:
    return {"slug": w.org.slug, "appointment_id": w.appointment.pk}


def document(w: World) -> dict[str, Any]:
    """The patient's own upload from the portal (restricted: administrators and the treating doctor)."""
    return {"document_id": w.extra["upload"].pk}


def medical_add(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient.pk, "kind": "diagnosis"}


def medication_edit(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient.pk, "kind": "medication", "entry_id": w.extra["medication"].pk}


def medication(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient.pk, "entry_id": w.extra["medication"].pk}


def photo_pair(w: World) -> dict[str, Any]:
    return {"patient_id": w.patient.pk, "pair_id": w.extra["photo_pair"].pk}


def medication_stopped(w: World) -> bool:
    from kabinet.records.models import Medication

    return Medication.objects.get(pk=w.extra["medication"].pk).stopped_on is not None


def medication_erroneous(w: World) -> bool:
    from kabinet.records.models import Medication

    return Medication.objects.get(pk=w.extra["medication"].pk).is_erroneous


def erroneous_reason(w: World) -> dict[str, Any]:
    return {f"erroneous-medication-{w.extra['medication'].pk}-reason": "wrong patient"}


def pair_removed(w: World) -> bool:
    from kabinet.records.models import PhotoPair

    return not PhotoPair.objects.filter(pk=w.extra["photo_pair"].pk).exists()


def two_photos(w: World) -> dict[str, Any]:
    return {"label": "Lips", "before": w.extra["photo_before"].pk, "after": w.extra["photo_after"].pk}


def consent_document(w: World) -> dict[str, Any]:
    """A consent made from a template by the treating doctor (the desk has it signed on the screen)."""
    return {"document_id": w.extra["consent"].pk}


def clinical_document(w: World) -> dict[str, Any]:
    """A lab result attached by the treating doctor (clinical: not for the desk roles)."""
    return {"document_id": w.extra["clinical"].pk}


def outbox_message(w: World) -> dict[str, Any]:
    """The in-app copy of the owner's booking confirmation, in the clinic's outbox."""
    return {"message_id": w.extra["message"].pk}


def inapp_note(w: World) -> dict[str, Any]:
    """That copy in the owner's bell."""
    return {"notification_id": w.extra["inapp"].pk}


def note_read(w: World) -> bool:
    from kabinet.notifications.models import InAppNotification

    return InAppNotification.objects.get(pk=w.extra["inapp"].pk).read_at is not None


def message_template(w: World) -> dict[str, Any]:
    return {"event": "appointment.reminder", "channel": "sms", "language": "en"}


def dlr_token(w: World) -> dict[str, Any]:
    from kabinet.notifications.providers import dlr_token as token

    return {"token": token()}


def unsubscribe_token(w: World) -> dict[str, Any]:
    from kabinet.notifications.services import unsubscribe_token as token

    return {"token": token(w.extra["message"])}


def opened_token(w: World) -> dict[str, Any]:
    from kabinet.notifications.services import _opened_signer

    return {"token": _opened_signer.sign(str(w.extra["message"].pk))}


# campaigns: administrators (and coordinators, not among the matrix's actors) of the clinic run them.
CAMPAIGNERS = frozenset({"admin"})


def campaign(w: World) -> dict[str, Any]:
    return {"campaign_id": w.extra["campaign"].pk}


def campaign_start(w: World) -> dict[str, Any]:
    return {"campaign_id": w.extra["campaign"].pk, "action": "start"}


def campaign_started(w: World) -> bool:
    from kabinet.campaigns.models import Campaign

    return Campaign.objects.get(pk=w.extra["campaign"].pk).state == Campaign.State.RUNNING


def appointment_cancelled(w: World) -> bool:
    return Appointment.objects.get(pk=w.appointment.pk).status == Appointment.Status.CANCELLED


def token_revoked(w: World) -> bool:
    return ApiToken.objects.get(pk=w.token.pk).revoked_at is not None


def feed_revoked(w: World) -> bool:
    return CalendarFeed.objects.get(pk=w.feed.pk).revoked_at is not None


def phone_removed(w: World) -> bool:
    return not PatientPhone.objects.filter(pk=w.phone.pk).exists()


def link_removed(w: World) -> bool:
    return not Relationship.objects.filter(pk=w.proxy_link.pk).exists()


def time_off_removed(w: World) -> bool:
    return not TimeOff.objects.filter(pk=w.time_off.pk).exists()


def shift_removed(w: World) -> bool:
    return not Shift.objects.filter(pk=w.free_shift.pk).exists()


def passive(w: World) -> dict[str, Any]:
    return {"status": Patient.Status.PASSIVE}


def made_passive(w: World) -> bool:
    return Patient.objects.get(pk=w.patient.pk).status == Patient.Status.PASSIVE


def link_stranger(w: World) -> dict[str, Any]:
    return {"relative": w.extra["stranger"].pk, "kind": Relationship.Kind.OTHER}


def grid(w: World) -> dict[str, Any]:
    return {"location": w.location.pk, "month": w.time_off.start.strftime("%Y-%m")}


def cancel_reason(w: World) -> dict[str, Any]:
    return {"reason": w.cancel_reason.pk}


def share_with_other_doctor(w: World) -> dict[str, Any]:
    return {"member": w.other_doctor.pk}


def a_png(w: World) -> dict[str, Any]:
    return {"kind": "lab_result", "title": "Scan", "file": SimpleUploadedFile("scan.png", PNG, "image/png")}


# billing: the owner's visit is invoiced and part paid (see _add_billing); the desk (registrar, admin) handles money.
DESK = frozenset({"registrar", "admin"})


def import_job(w: World) -> dict[str, Any]:
    return {"job_id": w.extra["import_job"].pk}


def segment(w: World) -> dict[str, Any]:
    return {"segment_id": w.extra["segment"].pk}


def segment_gone(w: World) -> bool:
    from kabinet.patients.models import Segment

    return not Segment.objects.filter(pk=w.extra["segment"].pk).exists()


def invoice(w: World) -> dict[str, Any]:
    return {"invoice_id": w.extra["invoice"].pk}


def invoice_line(w: World) -> dict[str, Any]:
    return {"invoice_id": w.extra["invoice"].pk, "line_id": w.extra["invoice"].lines.get().pk}


def price_list(w: World) -> dict[str, Any]:
    return {"price_list_id": w.extra["price_list"].pk}


def discount(w: World) -> dict[str, Any]:
    return {"discount_id": w.extra["discount"].pk}


def five_in_cash(w: World) -> dict[str, Any]:
    return {"method": "cash", "amount": "5", "currency": "EUR"}


def deposit_in(w: World) -> dict[str, Any]:
    return {"direction": "in", "location": w.location.pk, "method": "cash", "amount": "7", "note": ""}


def paid_five(w: World) -> bool:
    from kabinet.billing.models import Payment

    return Payment.objects.filter(invoice=w.extra["invoice"], amount=5).exists()


def deposit_taken(w: World) -> bool:
    from kabinet.billing.models import Payment

    return Payment.objects.filter(invoice__isnull=True, account=w.patient, amount=7).exists()


def discount_off(w: World) -> bool:
    from kabinet.billing.models import Discount

    return not Discount.objects.get(pk=w.extra["discount"].pk).is_active


# front desk: the front office (registrar, admin; operators too) works the lists, staff read them and mark arrivals;
# a waiting-list offer is opened through its signed link by anybody holding it.
FRONT_OFFICE = frozenset({"registrar", "admin"})


def confirmations(w: World) -> dict[str, Any]:
    return {"kind": "confirmations"}


def worklist_item(w: World) -> dict[str, Any]:
    return {"item_id": w.extra["worklist_item"].pk}


def waitlist_entry(w: World) -> dict[str, Any]:
    return {"entry_id": w.extra["waitlist_entry"].pk}


def waitlist_offer(w: World) -> dict[str, Any]:
    from kabinet.frontdesk.services.waitlist import offer_token

    return {"token": offer_token(w.extra["waitlist_offer"])}


def entry_removed(w: World) -> bool:
    from kabinet.frontdesk.models import WaitlistEntry

    return WaitlistEntry.objects.get(pk=w.extra["waitlist_entry"].pk).state == WaitlistEntry.State.REMOVED


def next_hour(w: World) -> dict[str, Any]:
    return {"start": (w.appointment.start + timedelta(hours=1)).isoformat()}


# consultations: the owner's active contract with the treating doctor (see _add_consultations). The conversation is
# read by the patient side, the doctor (and care team) and administrators; the front office manages contracts
# without reading conversations; doctors take requests from the queue.
CONVERSATION_READERS = PATIENT_SIDE | {"doctor", "admin"}


def conversation(w: World) -> dict[str, Any]:
    return {"conversation_id": w.extra["conversation"].pk}


def consultation_file(w: World) -> dict[str, Any]:
    return {"message_id": w.extra["consultation_message"].pk}


def consultation_api_file(w: World) -> dict[str, Any]:
    return {"conversation_id": w.extra["conversation"].pk, "message_id": w.extra["consultation_message"].pk}


def consultation_contract(w: World) -> dict[str, Any]:
    return {"contract_id": w.extra["contract"].pk}


def contract_payment(w: World) -> dict[str, Any]:
    return {"contract_id": w.extra["contract"].pk, "action": "payment"}


def consultation_request(w: World) -> dict[str, Any]:
    return {"request_id": w.extra["consultation_request"].pk}


def video_call(w: World) -> dict[str, Any]:
    return {"call_id": w.extra["video_call"].pk}


def video_call_ended(w: World) -> bool:
    from kabinet.consultations.models import VideoCall

    return VideoCall.objects.get(pk=w.extra["video_call"].pk).ended_at is not None


CALL_SIDES = PATIENT_SIDE | {"doctor"}  # the doctor and the patient side join calls; administrators do not


@dataclass(frozen=True)
class Rule:
    """Who reaches the object of one route. `allowed` get the data (2xx) or pass the permission check (a redirect,
    a 409 or a 422 about the input); everybody else gets 403 or 404 (anonymous visitors: the login page, or 401
    from the API). `effect`, when given, must be true after an allowed call and false after a refused one — for
    views that answer everybody alike (a redirect with a message) and for the changes that matter most."""

    target: Target
    allowed: frozenset[str]
    method: str = "GET"
    data: Callable[[World], dict[str, Any]] | None = None
    effect: Callable[[World], bool] | None = None
    note: str = ""


def post(
    target: Target,
    allowed: frozenset[str],
    data: Callable[[World], dict[str, Any]] | None = None,
    effect: Callable[[World], bool] | None = None,
) -> Rule:
    return Rule(target, allowed, "POST", data, effect)


# Pages (by URL name) that take an id. One line per route.
OBJECT_ROUTES: dict[str, Rule] = {
    # accounts: a token belongs to its user; a wrong id says "not found" on the tokens page (a redirect for all).
    "accounts:token_revoke": post(api_token, frozenset({"registrar"}), effect=token_revoked),
    # patients: every staff member of the clinic (product rule, see the module docstring); writes by role.
    "patients:card": Rule(patient, STAFF),
    "patients:timeline": Rule(patient, STAFF),
    "patients:details": post(patient, STAFF),
    "patients:note_add": post(patient, STAFF),
    "patients:status": post(patient, frozenset({"registrar", "admin"}), data=passive, effect=made_passive),
    "patients:tags": post(patient, STAFF),
    "patients:phone_add": post(patient, STAFF),
    "patients:phone_remove": post(phone, STAFF, effect=phone_removed),
    "patients:email_add": post(patient, STAFF),
    "patients:email_remove": post(email, STAFF),
    "patients:relative_add": post(patient, frozenset({"registrar", "admin"}), data=link_stranger),
    "patients:relative_remove": post(proxy_link, frozenset({"registrar", "admin"}), effect=link_removed),
    "patients:relative_candidates": Rule(patient, STAFF),
    # patients: imports belong to the roles that import (registrar, administrator); segments to all staff.
    "patients:import_job": Rule(import_job, IMPORTERS),
    "patients:import_progress": Rule(import_job, IMPORTERS),
    "patients:import_errors": Rule(import_job, IMPORTERS),
    "patients:segment_delete": post(segment, STAFF, effect=segment_gone),
    # scheduling: schedule editors are administrators and registrars; a feed is managed by its doctor or an admin.
    "scheduling:schedule_time_off_delete": post(
        time_off, frozenset({"registrar", "admin"}), data=grid, effect=time_off_removed
    ),
    "scheduling:feed_revoke": post(feed, frozenset({"doctor", "admin"}), effect=feed_revoked),
    "scheduling:feed": Rule(feed_token, ALL, note="capability URL: the unguessable token is the key"),
    "scheduling:appointment_ics": Rule(appointment, STAFF | PATIENT_SIDE),
    # portal and public booking
    "portal:appointment_cancel": post(
        appointment, STAFF | PATIENT_SIDE, data=cancel_reason, effect=appointment_cancelled
    ),
    "book": Rule(clinic_slug, ALL, note="public booking page of a clinic"),
    "book_done": Rule(booking_done, STAFF | PATIENT_SIDE),
    # records (documents): see kabinet/records/access.py
    "records:new": Rule(patient, STAFF),
    "records:upload": Rule(patient, STAFF),
    "records:detail": Rule(document, UPLOAD_STAFF_READERS),
    "records:edit": Rule(clinical_document, CLINICAL_STAFF),
    "records:erroneous": post(document, UPLOAD_STAFF_READERS),
    "records:sign": Rule(consent_document, STAFF),
    "records:delete": post(document, frozenset({"admin"}), data=lambda w: {"delete-reason": "duplicate"}),
    "records:share": post(document, UPLOAD_STAFF_READERS, data=share_with_other_doctor),
    "records:file": Rule(document, UPLOAD_STAFF_READERS | PATIENT_SIDE),
    "records:inline": Rule(document, UPLOAD_STAFF_READERS | PATIENT_SIDE),
    # medical data: the clinical roles of the clinic only (not the desk); the patient side reads it through the API.
    "records:allergies": post(patient, CLINICAL_STAFF, data=lambda w: {"allergies": "Latex"}),
    "records:medical_add": post(medical_add, CLINICAL_STAFF, data=lambda w: {"diagnosis-text": "Acne"}),
    "records:medical_edit": post(medication_edit, CLINICAL_STAFF),
    "records:medication_stop": post(medication, CLINICAL_STAFF, effect=medication_stopped),
    # entered in error: administrators, doctors and the author (here a doctor) — so every clinical actor.
    "records:medical_erroneous": post(
        medication_edit, CLINICAL_STAFF, data=erroneous_reason, effect=medication_erroneous
    ),
    "records:photo_pair_add": post(patient, CLINICAL_STAFF, data=two_photos),
    "records:photo_pair_remove": post(photo_pair, CLINICAL_STAFF, effect=pair_removed),
    # billing: every staff member reads invoices, the desk bills and takes money, administrators edit prices;
    # patients download their own (and wards') documents. Refused rules (an issued invoice cannot change) redirect.
    "billing:invoice": Rule(invoice, STAFF),
    "billing:invoice_pdf": Rule(invoice, STAFF | PATIENT_SIDE),
    "billing:checkout": Rule(appointment, STAFF),
    "billing:checkout_create": post(appointment, DESK),
    "billing:line_add": post(
        invoice, DESK, data=lambda w: {"description": "Gauze", "quantity": "1", "unit_price": "1"}
    ),
    "billing:line_remove": post(invoice_line, DESK),
    "billing:discount": post(invoice, DESK, data=lambda w: {"kind": "percent", "value": "5"}),
    "billing:payer": post(invoice, DESK),
    "billing:issue": post(invoice, DESK),
    "billing:pay": post(invoice, DESK, data=five_in_cash, effect=paid_five),
    "billing:refund": post(invoice, DESK, data=lambda w: {"method": "cash", "amount": "1"}),
    "billing:cancel": post(invoice, DESK, data=lambda w: {"reason": "Duplicate"}),
    "billing:deposit": post(patient, DESK, data=deposit_in, effect=deposit_taken),
    "billing:price_list": Rule(price_list, STAFF),
    "billing:discount_deactivate": post(discount, frozenset({"admin"}), effect=discount_off),
    # notifications: the outbox for administrators and registrars; templates name an event, not an object, so each
    # clinic's administrator edits their own clinic's wording; a bell entry is its user's alone.
    "notifications:message": Rule(outbox_message, frozenset({"registrar", "admin"})),
    "notifications:template_edit": Rule(message_template, frozenset({"admin", "outsider"})),
    "notifications:template_preview": post(
        message_template, frozenset({"admin", "outsider"}), data=lambda w: {"subject": "", "body": "Hello"}
    ),
    "notifications:inbox_read": post(inapp_note, frozenset({"patient"}), effect=note_read),
    "notifications:dlr_kannel": Rule(dlr_token, ALL, note="capability URL: Kannel's secret token is the key"),
    "notifications:unsubscribe": Rule(unsubscribe_token, ALL, note="capability URL: a signed token"),
    "notifications:opened": Rule(opened_token, ALL, note="capability URL: a signed token (tracking image)"),
    # campaigns (kabinet/campaigns): another clinic's campaign is not found; other roles are refused.
    "campaigns:detail": Rule(campaign, CAMPAIGNERS),
    "campaigns:stats": Rule(campaign, CAMPAIGNERS),
    "campaigns:recipients": Rule(campaign, CAMPAIGNERS),
    "campaigns:export": Rule(campaign, CAMPAIGNERS),
    "campaigns:action": post(campaign_start, CAMPAIGNERS, effect=campaign_started),
    # front desk (another clinic's administrator works their own clinic's lists: the list kind is not an object)
    "frontdesk:generate": post(confirmations, FRONT_OFFICE | {"outsider"}),
    "frontdesk:attempt": post(worklist_item, FRONT_OFFICE, data=lambda w: {"outcome": "no_answer"}),
    "frontdesk:waitlist_remove": post(waitlist_entry, FRONT_OFFICE, effect=entry_removed),
    "frontdesk:next_visit": Rule(appointment, STAFF),
    "frontdesk:visit_card_pdf": Rule(appointment, STAFF),
    "frontdesk:visit_card_sms": post(appointment, STAFF),
    "frontdesk_offer:offer": Rule(waitlist_offer, ALL, note="capability URL: a signed, expiring token"),
    # consultations (see kabinet/consultations/access.py); staff pages send the patient side to their own pages
    "consultations:conversation": Rule(conversation, frozenset({"doctor", "admin"})),
    "consultations:messages": Rule(conversation, CONVERSATION_READERS),
    "consultations:readings": Rule(conversation, CONVERSATION_READERS),
    "consultations:file": Rule(consultation_file, CONVERSATION_READERS),
    "consultations:contract": Rule(consultation_contract, frozenset({"registrar", "doctor", "admin"})),
    "consultations:contract_action": post(
        contract_payment, frozenset({"registrar", "admin"}), data=lambda w: {"payment_state": "paid"}
    ),
    "consultations:request": Rule(consultation_request, STAFF),
    "consultations_portal:conversation": Rule(conversation, PATIENT_SIDE),
    "consultations_portal:messages": Rule(conversation, CONVERSATION_READERS),
    "consultations_portal:readings": Rule(conversation, CONVERSATION_READERS),
    "consultations_portal:rate": post(consultation_contract, PATIENT_SIDE, data=lambda w: {"score": "5"}),
    "consultations:video_start": post(conversation, frozenset({"doctor"})),
    "consultations:video": Rule(video_call, CALL_SIDES),
    "consultations:video_end": post(video_call, CALL_SIDES, effect=video_call_ended),
    "consultations_portal:video": Rule(video_call, CALL_SIDES),
    "consultations:review_save": post(consultation_contract, frozenset({"admin"}), data=lambda w: {"score": "4"}),
}

# API operations (method and OpenAPI path) that take an id. Bodies must be valid, or every caller would get 422.
API_OPERATIONS: dict[str, Rule] = {
    "GET /api/v1/patients/{patient_id}": Rule(patient, STAFF | PATIENT_SIDE),
    "PATCH /api/v1/patients/{patient_id}": Rule(patient, STAFF, "PATCH", lambda w: {"given_name": "Anna"}),
    "GET /api/v1/patients/{patient_id}/timeline": Rule(patient, STAFF),
    "GET /api/v1/patients/imports/{job_id}": Rule(import_job, IMPORTERS),
    "GET /api/v1/patients/imports/{job_id}/errors": Rule(import_job, IMPORTERS),
    "GET /api/v1/patients/segments/{segment_id}/patients": Rule(segment, STAFF),
    "DELETE /api/v1/patients/segments/{segment_id}": Rule(segment, STAFF, "DELETE", effect=segment_gone),
    "GET /api/v1/patients/{patient_id}/documents": Rule(patient, STAFF | PATIENT_SIDE),
    "GET /api/v1/patients/{patient_id}/medical": Rule(patient, CLINICAL_STAFF | PATIENT_SIDE),
    "POST /api/v1/patients/{patient_id}/medical/{kind}/{entry_id}/mark-erroneous": Rule(
        medication_edit, CLINICAL_STAFF, "POST", lambda w: {"reason": "wrong patient"}, effect=medication_erroneous
    ),
    "POST /api/v1/patients/{patient_id}/documents": Rule(patient, CLINICAL_STAFF | PATIENT_SIDE, "POST", a_png),
    "GET /api/v1/documents/{document_id}": Rule(document, UPLOAD_STAFF_READERS | PATIENT_SIDE),
    "GET /api/v1/documents/{document_id}/file": Rule(document, UPLOAD_STAFF_READERS | PATIENT_SIDE),
    "POST /api/v1/documents/{document_id}/mark-erroneous": Rule(
        document, UPLOAD_STAFF_READERS, "POST", lambda w: {"reason": "wrong patient"}
    ),
    "DELETE /api/v1/documents/{document_id}": Rule(
        document, frozenset({"admin"}), "DELETE", lambda w: {"reason": "duplicate"}
    ),
    "GET /api/v1/appointments/{appointment_id}": Rule(appointment, STAFF | PATIENT_SIDE),
    "PATCH /api/v1/appointments/{appointment_id}": Rule(appointment, STAFF, "PATCH", lambda w: {"note": "Call first"}),
    "POST /api/v1/appointments/{appointment_id}/status": Rule(
        appointment, STAFF, "POST", lambda w: {"status": Appointment.Status.CONFIRMED}
    ),
    "POST /api/v1/appointments/{appointment_id}/cancel": Rule(
        appointment, STAFF | PATIENT_SIDE, "POST", cancel_reason, effect=appointment_cancelled
    ),
    "DELETE /api/v1/schedule/shifts/{shift_id}": Rule(
        free_shift, frozenset({"registrar", "admin"}), "DELETE", effect=shift_removed
    ),
    "GET /api/v1/invoices/{invoice_id}": Rule(invoice, STAFF | PATIENT_SIDE),
    "GET /api/v1/invoices/{invoice_id}/pdf": Rule(invoice, STAFF | PATIENT_SIDE),
    "POST /api/v1/invoices/{invoice_id}/lines": Rule(
        invoice, DESK, "POST", lambda w: {"description": "Gauze", "unit_price": "1"}
    ),
    "DELETE /api/v1/invoices/{invoice_id}/lines/{line_id}": Rule(invoice_line, DESK, "DELETE"),
    "POST /api/v1/invoices/{invoice_id}/discount": Rule(
        invoice, DESK, "POST", lambda w: {"kind": "fixed", "value": "1"}
    ),
    "POST /api/v1/invoices/{invoice_id}/issue": Rule(invoice, DESK, "POST"),
    "POST /api/v1/invoices/{invoice_id}/cancel": Rule(invoice, DESK, "POST", lambda w: {"reason": "Duplicate"}),
    "POST /api/v1/invoices/{invoice_id}/payments": Rule(invoice, DESK, "POST", five_in_cash, effect=paid_five),
    "POST /api/v1/invoices/{invoice_id}/refunds": Rule(
        invoice, DESK, "POST", lambda w: {"method": "cash", "amount": "1", "currency": "EUR"}
    ),
    "GET /api/v1/patients/{patient_id}/balance": Rule(patient, STAFF | PATIENT_SIDE),
    "POST /api/v1/patients/{patient_id}/deposits": Rule(
        patient,
        DESK,
        "POST",
        lambda w: {"location": w.location.pk, "method": "cash", "amount": "7", "currency": "EUR"},
        effect=deposit_taken,
    ),
    "GET /api/v1/outbox/{message_id}": Rule(outbox_message, frozenset({"registrar", "admin"})),
    "GET /api/v1/campaigns/{campaign_id}": Rule(campaign, CAMPAIGNERS),
    "POST /api/v1/campaigns/{campaign_id}/start": Rule(campaign, CAMPAIGNERS, "POST", effect=campaign_started),
    "POST /api/v1/campaigns/{campaign_id}/pause": Rule(campaign, CAMPAIGNERS, "POST"),
    "POST /api/v1/campaigns/{campaign_id}/resume": Rule(campaign, CAMPAIGNERS, "POST"),
    "POST /api/v1/campaigns/{campaign_id}/cancel": Rule(campaign, CAMPAIGNERS, "POST"),
    "GET /api/v1/campaigns/{campaign_id}/stats": Rule(campaign, CAMPAIGNERS),
    "GET /api/v1/campaigns/{campaign_id}/recipients": Rule(campaign, CAMPAIGNERS),
    "GET /api/v1/worklists/{kind}": Rule(confirmations, STAFF | {"outsider"}),
    "POST /api/v1/worklists/{kind}/generate": Rule(confirmations, FRONT_OFFICE | {"outsider"}, "POST"),
    "POST /api/v1/worklist-items/{item_id}/attempts": Rule(
        worklist_item, FRONT_OFFICE, "POST", lambda w: {"outcome": "no_answer"}
    ),
    "POST /api/v1/appointments/{appointment_id}/arrive": Rule(appointment, STAFF, "POST"),
    # The call of a video visit: only the visit's doctor passes (the world's visit is not a video one: 422 not_video).
    "POST /api/v1/appointments/{appointment_id}/video-call": Rule(appointment, frozenset({"doctor"}), "POST"),
    "GET /api/v1/appointments/{appointment_id}/next-visit-slots": Rule(appointment, STAFF),
    "POST /api/v1/appointments/{appointment_id}/next-visit": Rule(appointment, STAFF, "POST", next_hour),
    "POST /api/v1/notifications/{notification_id}/read": Rule(
        inapp_note, frozenset({"patient"}), "POST", effect=note_read
    ),
    "GET /api/v1/conversations/{conversation_id}/messages": Rule(conversation, CONVERSATION_READERS),
    "POST /api/v1/conversations/{conversation_id}/messages": Rule(
        conversation, PATIENT_SIDE | {"doctor"}, "POST", lambda w: {"text": "Hello"}
    ),
    "GET /api/v1/conversations/{conversation_id}/messages/{message_id}/file": Rule(
        consultation_api_file, CONVERSATION_READERS
    ),
    "POST /api/v1/conversations/{conversation_id}/read": Rule(conversation, CONVERSATION_READERS, "POST"),
    "POST /api/v1/contracts/{contract_id}/end": Rule(
        consultation_contract, frozenset({"registrar", "admin"}), "POST", lambda w: {"reason": ""}
    ),
    "POST /api/v1/consultation-requests/{request_id}/take": Rule(
        consultation_request, frozenset({"doctor", "other_doctor"}), "POST"
    ),
}

# Routes without ids that anonymous visitors may reach (by URL name; the API's by method and path).
PUBLIC = frozenset(
    {
        "accounts:login",
        "accounts:logout",  # POST only; logs out whoever sends it
        "accounts:password_reset",
        "accounts:password_reset_confirm",
        "accounts:activate",
        "accounts:set_language",
        "healthz",
        "manifest",
        "service_worker",
        "core:offline",
        "portal:manifest",
        "portal:service_worker",
        "portal:offline",
        "book_index",
        "^api/",  # unknown API paths: a 404 problem document
        "api-1:api-root",
        "api-1:openapi-json",
        "api-1:openapi-view",
    }
)


# --- the routes, from the URL configuration and the OpenAPI document -----------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # URL name ("patients:card"), or the pattern when unnamed
    pattern: str
    params: tuple[str, ...]


def _params(pattern: Any) -> tuple[str, ...]:
    regex = pattern.regex
    return tuple(regex.groupindex)


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            params = _params(entry.pattern)
            for route in _walk(entry.url_patterns, prefix + str(entry.pattern), ns):
                yield Route(route.key, route.pattern, params + route.params)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            pattern = prefix + str(entry.pattern)
            yield Route(name or pattern, pattern, _params(entry.pattern))


def page_routes() -> list[Route]:
    """Every route of the site except the API (taken from its schema) and Django's admin (tested apart)."""
    routes: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns):
        if route.pattern.startswith("admin/"):
            continue
        if route.key.startswith("api-1:") and route.key not in PUBLIC:
            continue  # the API's operations come from the OpenAPI document, per method
        routes.setdefault(route.key, route)
    return sorted(routes.values(), key=lambda r: r.key)


def _schema() -> dict[str, Any]:
    return dict(api.get_openapi_schema(path_prefix="/api/v1/"))


def api_operations() -> dict[str, list[str]]:
    """{"GET /api/v1/patients/{patient_id}": ["patient_id"], …} for every operation of the API."""
    operations = {}
    for path, item in _schema()["paths"].items():
        for method, operation in item.items():
            params = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]
            operations[f"{method.upper()} {path}"] = params
    return operations


PAGES = page_routes()
OPERATIONS = api_operations()
PAGES_WITH_IDS = sorted(r.key for r in PAGES if r.params)
PAGES_WITHOUT_IDS = sorted(r.key for r in PAGES if not r.params and r.key not in PUBLIC)
API_WITH_IDS = sorted(k for k, params in OPERATIONS.items() if params)
API_WITHOUT_IDS = sorted(k for k, params in OPERATIONS.items() if not params)


# --- the world ------------------------------------------------------------------------------------------------------


def _user(email: str, name: str) -> User:
    return UserFactory.create(email=email, full_name=name, password=False)  # no hashing: clients use force_login


def _portal_patient(org: Organisation, email: str, family: str, given: str) -> tuple[User, Patient]:
    user = _user(email, f"{given} {family}")
    member(user, org, Role.PATIENT)
    return user, PatientFactory.create(organisation=org, user=user, family_name=family, given_name=given)


def build_world() -> World:
    org = OrganisationFactory.create(name="Matrix Alpha", slug="matrix-alpha")
    other_org = OrganisationFactory.create(name="Matrix Beta", slug="matrix-beta")
    location = LocationFactory.create(organisation=org, name="Main", time_zone="Europe/Sofia")
    users = {name: _user(f"{name}@matrix.example", name.title()) for name in ("registrar", "admin", "outsider")}
    member(users["registrar"], org, Role.REGISTRAR)
    member(users["admin"], org, Role.ADMIN)
    member(users["outsider"], other_org, Role.ADMIN)
    users["doctor"] = _user("doctor@matrix.example", "Dr Treating")
    doctor = member(users["doctor"], org, Role.DOCTOR)
    users["other_doctor"] = _user("other_doctor@matrix.example", "Dr Other")
    other_doctor = member(users["other_doctor"], org, Role.DOCTOR)
    for m in (doctor, other_doctor):
        m.locations.add(location)
    service = Service.objects.create(organisation=org, name="Consultation", duration_minutes=30, grid_minutes=15)
    service.practitioners.set([doctor, other_doctor])
    users["patient"], owner = _portal_patient(org, "patient@matrix.example", MARKER, "Olga")
    users["proxy"], guardian = _portal_patient(org, "proxy@matrix.example", "Guardian", "Gala")
    users["relative"], sibling = _portal_patient(org, "relative@matrix.example", "Sibling", "Sava")
    users["other_patient"], stranger = _portal_patient(org, "other@matrix.example", "Stranger", "Stas")
    PatientFactory.create(organisation=other_org, family_name="Betaperson")
    proxy_link = Relationship.objects.create(
        organisation=org, patient=owner, relative=guardian, kind=Relationship.Kind.PARENT, is_proxy=True
    )
    Relationship.objects.create(
        organisation=org, patient=owner, relative=sibling, kind=Relationship.Kind.OTHER, is_proxy=False
    )

    registrar, admin_user = users["registrar"], users["admin"]
    day = timezone.localdate() + timedelta(days=5)  # beyond the patients' change cut-off
    scheduling_services.shift_create(
        actor=None, practitioner=doctor, location=location, day=day, start_time=time(9), end_time=time(14)
    )
    free_day = day + timedelta(days=1)
    free_shift = scheduling_services.shift_create(
        actor=None, practitioner=other_doctor, location=location, day=free_day, start_time=time(9), end_time=time(12)
    )
    start = datetime.combine(day, time(10), tzinfo=location.zone)
    booked = scheduling_services.appointment_book(
        actor=registrar, patient=owner, practitioner=doctor, service=service, start=start, location=location
    )
    away = datetime.combine(day + timedelta(days=10), time(0), tzinfo=location.zone)
    time_off = scheduling_services.time_off_add(
        actor=admin_user, practitioner=doctor, start=away, end=away + timedelta(days=1)
    )
    feed_row, token = scheduling_services.calendar_feed_create(actor=users["doctor"], practitioner=doctor)
    api_token, _raw = api_token_create(user=registrar, name="script")
    world = World(
        org=org,
        other_org=other_org,
        location=location,
        service=service,
        users=users,
        patient=owner,
        doctor=doctor,
        other_doctor=other_doctor,
        appointment=booked,
        cancel_reason=Reason.objects.create(organisation=org, kind=Reason.Kind.CANCEL, name="Asked"),
        phone=patient_services.patient_phone_add(actor=registrar, patient=owner, number="+359881112233"),
        email=patient_services.patient_email_add(actor=registrar, patient=owner, address="olga@matrix.example"),
        proxy_link=proxy_link,
        note=patient_services.note_add(actor=registrar, patient=owner, text="Prefers mornings"),
        free_shift=free_shift,
        time_off=time_off,
        feed=feed_row,
        feed_token=token,
        token=api_token,
    )
    world.extra["stranger"] = stranger
    _add_patient_lists(world)
    _add_documents(world)
    _add_billing(world)
    _add_notifications(world)
    _add_frontdesk(world)
    _add_consultations(world)
    _add_campaigns(world)
    return world


def _add_campaigns(world: World) -> None:
    """A draft campaign of the clinic for the saved segment (its audience is the owner)."""
    from kabinet.campaigns.services import campaign_create

    world.extra["campaign"] = campaign_create(
        actor=world.users["admin"],
        organisation=world.org,
        name="Spring",
        segment=world.extra["segment"],
        channels=["email"],
        subject="Spring",
        body="Hello {{ patient.first_name }}",
    )


def _add_consultations(world: World) -> None:
    """The owner's open contract with the treating doctor, a photo the owner sent in it, and a question waiting in
    the clinic's queue."""
    from kabinet.consultations import services as consultation_services

    contract = consultation_services.contract_create(
        actor=world.users["admin"],
        patient=world.patient,
        doctor=world.doctor,
        ends_on=timezone.localdate() + timedelta(days=30),
        activate=True,
    )
    contract.refresh_from_db()
    assert contract.conversation is not None
    message = consultation_services.message_send(
        actor=world.users["patient"],
        conversation=contract.conversation,
        text=f"{MARKER}: is this normal?",
        upload=SimpleUploadedFile("rash.png", PNG, "image/png"),
    )
    request = consultation_services.request_create(
        actor=world.users["patient"], patient=world.patient, kind="question", question="May I swim?"
    )
    world.extra["video_call"] = consultation_services.video_call_start(
        actor=world.users["doctor"], conversation=contract.conversation
    )
    world.extra.update(
        contract=contract,
        conversation=contract.conversation,
        consultation_message=message,
        consultation_request=request,
    )


def _add_frontdesk(world: World) -> None:
    """The owner's visit on the confirmation list of the day before, a waiting entry and an offer of a free time."""
    from kabinet.frontdesk.models import WaitlistOffer, WorklistItem
    from kabinet.frontdesk.services.waitlist import waitlist_add
    from kabinet.frontdesk.services.worklists import confirmations_generate

    day = timezone.localtime(world.appointment.start, world.location.zone).date() - timedelta(days=1)
    confirmations_generate(actor=None, organisation=world.org, day=day)
    entry = waitlist_add(actor=world.users["registrar"], patient=world.patient, service=world.service)
    start = world.free_shift.start
    offer = WaitlistOffer.objects.create(
        organisation=world.org,
        entry=entry,
        practitioner=world.other_doctor,
        location=world.location,
        service=world.service,
        start=start,
        end=start + timedelta(minutes=30),
        expires_at=start - timedelta(hours=1),
    )
    item = WorklistItem.objects.get(organisation=world.org, appointment=world.appointment)
    world.extra.update(worklist_item=item, waitlist_entry=entry, waitlist_offer=offer)


def _add_notifications(world: World) -> None:
    from kabinet.notifications.dispatch import dispatch_due
    from kabinet.notifications.models import InAppNotification, Message

    dispatch_due()  # the booking's confirmation reaches the owner's bell (the in-app copy; no phone or email yet)
    inapp = InAppNotification.objects.filter(user=world.users["patient"]).order_by("pk").first()
    assert inapp is not None and inapp.message_id is not None
    world.extra.update(inapp=inapp, message=Message.objects.get(pk=inapp.message_id))


def _add_billing(world: World) -> None:
    """The owner's visit invoiced (50.00 EUR), issued and 10.00 paid in cash; a price list and a discount."""
    from decimal import Decimal

    from kabinet.billing import services as billing_services

    desk, admin_user = world.users["registrar"], world.users["admin"]
    world.service.price = Decimal("50")
    world.service.save(update_fields=["price"])
    draft = billing_services.invoice_create_for_visit(actor=desk, appointment=world.appointment)
    issued = billing_services.invoice_issue(actor=desk, invoice=draft)
    billing_services.payment_take(actor=desk, invoice=issued, method="cash", amount=Decimal("10"), currency="EUR")
    price_list = billing_services.price_list_create(
        actor=admin_user, location=world.location, name="Main", valid_from=world.appointment.start.date()
    )
    discount = billing_services.discount_create(
        actor=admin_user, organisation=world.org, name="Card", kind="percent", value=Decimal("5"), code="MATRIX"
    )
    world.extra.update(invoice=issued, price_list=price_list, discount=discount)


def _add_patient_lists(world: World) -> None:
    from kabinet.patients import importing
    from kabinet.patients.filters import PatientCriteria

    csv = b"Family name;Given name;Phone\nQuillfeather;Bad;not a phone\n"
    job = importing.patient_import_start(
        actor=world.users["registrar"],
        organisation=world.org,
        file=SimpleUploadedFile("list.csv", csv, "text/csv"),
        dry_run=True,
    )
    segment = patient_services.segment_save(
        actor=world.users["registrar"], organisation=world.org, name="Mornings", criteria=PatientCriteria(query="Quill")
    )
    world.extra.update(import_job=importing.patient_import_run(job.pk), segment=segment)


def _add_documents(world: World) -> None:
    from kabinet.records import services as records_services
    from kabinet.records.models import DocumentTemplate

    upload = records_services.document_upload_by_patient(
        actor=world.users["patient"],
        patient=world.patient,
        kind="photo",
        title="Rash",
        upload=SimpleUploadedFile("rash.png", PNG, "image/png"),
    )
    clinical = records_services.document_upload(
        actor=world.users["doctor"],
        patient=world.patient,
        kind="lab_result",
        title="Blood test",
        upload=SimpleUploadedFile("blood.png", PNG, "image/png"),
    )
    consent = records_services.document_create_from_template(
        actor=world.users["doctor"],
        patient=world.patient,
        template=DocumentTemplate.objects.create(
            organisation=world.org, kind="informed_consent", name="Consent", body="<p>I agree.</p>"
        ),
        fields={},
    )
    world.extra.update(upload=upload, clinical=clinical, consent=consent)
    _add_medical(world)


def _add_medical(world: World) -> None:
    from kabinet.records import medical
    from kabinet.records import services as records_services

    doctor = world.users["doctor"]
    photos = [
        records_services.document_upload(
            actor=doctor,
            patient=world.patient,
            kind="photo",
            title=title,
            upload=SimpleUploadedFile(f"{title}.png", PNG, "image/png"),
        )
        for title in ("Before", "After")
    ]
    world.extra.update(
        medication=medical.medical_entry_add(
            actor=doctor, patient=world.patient, kind="medication", data={"name": "Doxycycline"}
        ),
        photo_before=photos[0],
        photo_after=photos[1],
        photo_pair=medical.photo_pair_add(
            actor=doctor, patient=world.patient, before=photos[0], after=photos[1], label="Cheeks"
        ),
    )


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Built once in a transaction that is rolled back after the module; each test runs in a savepoint inside it, so
    what one test changes (a cancelled visit, a revoked token) is undone before the next."""
    media = tmp_path_factory.mktemp("matrix-media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media)), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def client_for(world: World, actor: str) -> Client:
    client = Client()
    if actor != "anonymous":
        client.force_login(world.users[actor], backend="kabinet.accounts.backends.EmailOrPhoneBackend")
    return client


# --- checks -----------------------------------------------------------------------------------------------------------

LOGIN_PATH = resolve_url(settings.LOGIN_URL)


def _goes_to_login(response: HttpResponse) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN_PATH)


def _call(client: Client, rule: Rule, url: str, world: World, *, api_call: bool) -> HttpResponse:
    data = rule.data(world) if rule.data else {}
    if rule.method == "GET":
        return client.get(url, data)  # type: ignore[return-value]
    if api_call and not any(isinstance(v, SimpleUploadedFile) for v in data.values()):
        return client.generic(rule.method, url, _json(data), content_type="application/json")  # type: ignore[return-value]
    return client.post(url, data)  # type: ignore[return-value]


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, default=str)


def _check(response: HttpResponse, rule: Rule, actor: str, world: World, *, api_call: bool) -> None:
    status = response.status_code
    where = f"{actor}: {status}"
    assert status < 500, where
    body = b"" if getattr(response, "streaming", False) else response.content
    if actor in rule.allowed:
        assert status not in (401, 403, 404, 405) and not _goes_to_login(response), f"{where} (should be allowed)"
        if rule.method == "GET":
            assert 200 <= status < 300, where
    elif actor == "anonymous":
        if api_call:
            assert status == 401, where
        else:
            assert _goes_to_login(response), f"{where} (should go to the login page)"
    elif rule.effect is None:
        assert status in (403, 404), f"{where} (should be refused with 403 or 404)"
    if actor not in rule.allowed and actor != "patient":  # the owner's own name is in the page header
        assert MARKER.encode() not in body, f"{actor} was refused but the answer names the patient"
    if rule.effect is not None:
        assert rule.effect(world) == (actor in rule.allowed), (
            f"{actor}: effect {'missing' if actor in rule.allowed else 'happened'}"
        )


# --- the tests ------------------------------------------------------------------------------------------------------


def test_every_route_with_an_id_is_in_the_matrix() -> None:
    missing = [key for key in PAGES_WITH_IDS if key not in OBJECT_ROUTES]
    missing += [key for key in API_WITH_IDS if key not in API_OPERATIONS]
    assert not missing, (
        "Routes that take an object id but have no line in the authorization matrix "
        "(tests/test_authorization_matrix.py, OBJECT_ROUTES / API_OPERATIONS): " + ", ".join(missing)
    )


def test_the_matrix_names_only_routes_that_exist() -> None:
    stale = sorted(set(OBJECT_ROUTES) - set(PAGES_WITH_IDS)) + sorted(set(API_OPERATIONS) - set(API_WITH_IDS))
    assert not stale, "Matrix lines for routes that no longer exist: " + ", ".join(stale)


@pytest.mark.django_db
def test_the_served_openapi_document_is_the_one_the_matrix_reads(client: Client) -> None:
    served = client.get("/api/v1/openapi.json").json()
    assert sorted(served["paths"]) == sorted(_schema()["paths"])


def test_every_api_route_of_the_url_configuration_is_in_the_openapi_document() -> None:
    """Nothing hides from the matrix by being left out of the schema (include_in_schema=False)."""
    documented = {key.split(" ", 1)[1] for key in OPERATIONS}
    undocumented = []
    for route in _walk(get_resolver().url_patterns):
        if route.key.startswith("api-1:") and route.key not in PUBLIC:
            path = "/" + route.pattern
            for name in route.params:
                path = path.replace(f"<{name}>", "{" + name + "}").replace(f"<int:{name}>", "{" + name + "}")
            if path not in documented:
                undocumented.append(route.key)
    assert not undocumented, undocumented


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("key", sorted(k for k in OBJECT_ROUTES if k in PAGES_WITH_IDS))
def test_page(world: World, db: None, key: str, actor: str) -> None:
    rule = OBJECT_ROUTES[key]
    url = reverse(key, kwargs=rule.target(world))
    response = _call(client_for(world, actor), rule, url, world, api_call=False)
    _check(response, rule, actor, world, api_call=False)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("key", sorted(k for k in API_OPERATIONS if k in API_WITH_IDS))
def test_api(world: World, db: None, key: str, actor: str) -> None:
    rule = API_OPERATIONS[key]
    method, path = key.split(" ", 1)
    assert method == rule.method, f"{key}: the rule says {rule.method}"
    url = path.format(**rule.target(world))
    response = _call(client_for(world, actor), rule, url, world, api_call=True)
    _check(response, rule, actor, world, api_call=True)


@pytest.mark.parametrize("key", PAGES_WITHOUT_IDS)
def test_page_without_id_needs_login(world: World, db: None, key: str) -> None:
    url = reverse(key)
    client = Client()
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    assert _goes_to_login(response), f"{key}: {response.status_code} for an anonymous visitor"  # type: ignore[arg-type]


@pytest.mark.parametrize("key", API_WITHOUT_IDS)
def test_api_without_id_needs_authentication(world: World, db: None, key: str) -> None:
    method, path = key.split(" ", 1)
    response = Client().generic(method, path, "{}", content_type="application/json")
    assert response.status_code == 401, f"{key}: {response.status_code}"


LIST_PAGES = [r.key for r in PAGES if not r.params and r.key != r.pattern]  # named: reversible
LIST_API = [k for k in API_WITHOUT_IDS if k.startswith("GET ")]


@pytest.mark.parametrize("actor", ["outsider", "other_patient", "relative"])
def test_lists_show_nothing_of_the_patient_to_strangers(world: World, db: None, actor: str) -> None:
    """Pages and API lists without ids (search, calendars, audit, portal home…) as another clinic's administrator
    and as patients with no rights on the owner: the owner's name appears nowhere."""
    client = client_for(world, actor)
    leaks = []
    for key in LIST_PAGES:
        response = client.get(reverse(key))
        if not getattr(response, "streaming", False) and MARKER.encode() in response.content:
            leaks.append(key)
    for key in LIST_API:
        response = client.get(key.split(" ", 1)[1], {"search": MARKER})
        if MARKER.encode() in response.content:
            leaks.append(key)
    assert not leaks, f"{actor} sees the patient on: {', '.join(leaks)}"


def _admin_urls() -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls += [
            reverse("admin:app_list", kwargs={"app_label": info[0]}),
            reverse("admin:{}_{}_changelist".format(*info)),
            reverse("admin:{}_{}_add".format(*info)),
            reverse("admin:{}_{}_change".format(*info), args=[1]),
            reverse("admin:{}_{}_delete".format(*info), args=[1]),
            reverse("admin:{}_{}_history".format(*info), args=[1]),
        ]
    return sorted(set(urls))


@pytest.mark.parametrize("actor", ["anonymous", "patient", "registrar", "admin", "outsider"])
def test_django_admin_is_closed_to_every_clinic_role(world: World, db: None, actor: str) -> None:
    """The back-office admin opens for Django staff accounts (is_staff) only, never for a clinic role — not even
    the clinic's administrator."""
    client = client_for(world, actor)
    login = reverse("admin:login")
    opened = [url for url in _admin_urls() if not client.get(url)["Location"].startswith(login)]
    assert not opened, f"{actor} reaches {opened}"


def test_wrong_feed_token_is_404(world: World, db: None) -> None:
    url = reverse("scheduling:feed", kwargs={"token": "x" * len(world.feed_token)})
    assert Client().get(url).status_code == 404
