"""The front desk in the demo clinic (called by kabinet.demo.seed): refusal reasons, recall rules, a few scheduled
visits tomorrow and today's confirmation calls about them, and a patient on the waiting list with a call-back today.
Idempotent: what exists is found, only what is missing is added."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.frontdesk.models import FrontDeskPolicy, RecallRule, RefusalReason, WaitlistEntry
from kabinet.frontdesk.services.waitlist import callbacks_generate
from kabinet.frontdesk.services.worklists import confirmations_generate
from kabinet.patients.models import Patient
from kabinet.scheduling.availability import free_slots
from kabinet.scheduling.models import Appointment, Service, Shift, ShiftTemplate
from kabinet.scheduling.services import shift_create_from_template

REFUSAL_REASONS = [
    ("Too expensive", "Дорого", "Твърде скъпо"),
    ("Chose another clinic", "Выбрал другую клинику", "Избра друга клиника"),
    ("Moved to another city", "Переехал в другой город", "Премести се в друг град"),
    ("Not satisfied with the result", "Не устроил результат", "Не е доволен от резултата"),
    ("No longer needed", "Больше не нужно", "Вече не е необходимо"),
]
# (service name, kind, days after the visit, rule name, what to say)
RECALL_RULES = [
    ("Consultation", RecallRule.Kind.CALL, 1, "Check-up call the next day", "Ask how the patient feels."),
    ("Fillers", RecallRule.Kind.CALL, 1, "Check-up call the next day", "Ask about swelling and bruising."),
    ("Fillers", RecallRule.Kind.VISIT, 182, "Control visit in 6 months", "Invite to a control visit."),
    ("Botox", RecallRule.Kind.VISIT, 14, "Control visit in 2 weeks", "Invite to check the result."),
]
TOMORROW_VISITS = 4


def seed_frontdesk(organisation: Organisation, *, patient_email: str) -> None:
    FrontDeskPolicy.objects.get_or_create(organisation=organisation)
    for en, ru, bg in REFUSAL_REASONS:
        RefusalReason.objects.get_or_create(organisation=organisation, name=en, defaults={"name_ru": ru, "name_bg": bg})
    services = {s.name: s for s in Service.objects.filter(organisation=organisation)}
    for service_name, kind, days, name, instructions in RECALL_RULES:
        if service_name in services:
            RecallRule.objects.get_or_create(
                organisation=organisation,
                service=services[service_name],
                kind=kind,
                after_days=days,
                defaults={"name": name, "instructions": instructions},
            )
    location = Location.objects.filter(organisation=organisation, is_active=True).order_by("pk").first()
    consultation = services.get("Consultation")
    if location is None or consultation is None:
        return
    today = timezone.localdate(timezone.now(), location.zone)
    _tomorrows_visits(organisation, location, consultation, today + timedelta(days=1))
    confirmations_generate(actor=None, organisation=organisation, day=today)
    _waiting_patient(organisation, location, consultation, patient_email, today)
    callbacks_generate(organisation=organisation, day=today)


def _tomorrows_visits(organisation: Organisation, location: Location, service: Service, day: date) -> None:
    """A few scheduled consultations tomorrow at the first location (a shift is added when nobody works then)."""
    start = datetime.combine(day, time.min, tzinfo=location.zone)
    end = start + timedelta(days=1)
    booked = Appointment.objects.filter(
        organisation=organisation, location=location, start__gte=start, start__lt=end, status="scheduled"
    ).count()
    doctors = list(service.practitioners.filter(locations=location, is_active=True))
    if booked >= TOMORROW_VISITS or not doctors:
        return
    if not Shift.objects.filter(practitioner__in=doctors, location=location, start__lt=end, end__gt=start).exists():
        template = ShiftTemplate.objects.filter(organisation=organisation).order_by("start_time").first()
        if template is None:
            return
        shift_create_from_template(actor=None, practitioner=doctors[0], location=location, day=day, template=template)
    slots = free_slots(
        service=service,
        practitioner_ids=[d.pk for d in doctors],
        start=start,
        end=end,
        not_before=timezone.now(),
        location_id=location.pk,
    )
    patients = iter(
        Patient.objects.filter(organisation=organisation, status=Patient.Status.ACTIVE)
        .exclude(phone="")
        .order_by("pk")[10:40]
    )
    step = max(1, len(slots) // TOMORROW_VISITS)
    for slot in slots[::step]:
        patient = next(patients, None)
        if booked >= TOMORROW_VISITS or patient is None:
            break
        busy_start, busy_end = slot.start - service.buffer_before, slot.end + service.buffer_after
        if Appointment.objects.filter(
            practitioner_id=slot.practitioner_id,
            status__in=Appointment.ACTIVE_STATUSES,
            busy_start__lt=busy_end,
            busy_end__gt=busy_start,
        ).exists():
            continue
        Appointment.objects.create(
            organisation=organisation,
            location=location,
            practitioner_id=slot.practitioner_id,
            patient=patient,
            service=service,
            start=slot.start,
            end=slot.end,
            busy_start=busy_start,
            busy_end=busy_end,
            status=Appointment.Status.SCHEDULED,
        )
        booked += 1


def _waiting_patient(
    organisation: Organisation, location: Location, service: Service, patient_email: str, today: date
) -> None:
    """The demo patient waits for an earlier consultation, mornings, and is to be called back today."""
    patient = Patient.objects.filter(organisation=organisation, user__email=patient_email).first()
    if patient is None or WaitlistEntry.objects.filter(organisation=organisation, patient=patient).exists():
        return
    registrar = (
        Member.objects.filter(organisation=organisation, roles__role=Role.REGISTRAR).select_related("user").first()
    )
    WaitlistEntry.objects.create(
        organisation=organisation,
        patient=patient,
        service=service,
        location=location,
        time_from=time(9),
        time_to=time(13),
        note="Wants an earlier consultation, mornings only.",
        callback_date=today,
        created_by=registrar.user if registrar else None,
    )
