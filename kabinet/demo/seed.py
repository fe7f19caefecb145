"""Builds the demo clinic: one organisation, two locations, staff of every role and 300 patients in families.

Idempotent: running it again finds what exists and adds only what is missing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kabinet.accounts.models import User
from kabinet.billing.demo import seed_billing
from kabinet.consultations.demo import seed_consultations
from kabinet.core.models import Location, Member, MemberRole, Organisation, Role, Room, Specialty
from kabinet.frontdesk.demo import seed_frontdesk
from kabinet.patients.models import Patient, PatientNote, PatientPhone, Relationship, Tag, TimelineEntry
from kabinet.records.models import DocumentKind, DocumentTemplate, MandatoryRule
from kabinet.scheduling.models import Appointment, BookingPolicy, HourNorm, Reason, Service, Shift, ShiftTemplate
from kabinet.scheduling.services import shift_create_from_template

DEMO_SLUG = "demo"
EMAIL_DOMAIN = "kabinet.example"
PATIENT_COUNT = 300


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    roles: tuple[str, ...]
    language: str = "en"
    specialty: str = ""
    title: str = ""
    locations: tuple[int, ...] = (0, 1)


STAFF = [
    DemoPerson("admin@" + EMAIL_DOMAIN, "Ivana Petrova", (Role.ADMIN,), "bg"),
    DemoPerson("registrar@" + EMAIL_DOMAIN, "Мария Смирнова", (Role.REGISTRAR,), "ru"),
    DemoPerson("operator@" + EMAIL_DOMAIN, "Georgi Dimitrov", (Role.OPERATOR,), "bg"),
    DemoPerson("coordinator@" + EMAIL_DOMAIN, "Анна Кузнецова", (Role.COORDINATOR,), "ru"),
    DemoPerson("nurse@" + EMAIL_DOMAIN, "Elena Georgieva", (Role.NURSE,), "bg", locations=(0,)),
    DemoPerson("doctor1@" + EMAIL_DOMAIN, "Д-р Николай Иванов", (Role.DOCTOR,), "bg", "Dermatology", "Dr.", (0,)),
    DemoPerson(
        "doctor2@" + EMAIL_DOMAIN, "Dr. Maria Stoyanova", (Role.DOCTOR,), "en", "Aesthetic medicine", "Dr.", (0,)
    ),
    DemoPerson("doctor3@" + EMAIL_DOMAIN, "Др. Ольга Соколова", (Role.DOCTOR,), "ru", "Cosmetology", "Dr.", (1,)),
    DemoPerson(
        "doctor4@" + EMAIL_DOMAIN,
        "Dr. Petar Todorov",
        (Role.DOCTOR, Role.ADMIN),
        "bg",
        "Plastic surgery",
        "Dr.",
        (0, 1),
    ),
    DemoPerson("doctor5@" + EMAIL_DOMAIN, "Др. Сергей Волков", (Role.DOCTOR,), "ru", "Dentistry", "Dr.", (1,)),
    DemoPerson("doctor6@" + EMAIL_DOMAIN, "Dr. Elena Nikolova", (Role.DOCTOR,), "en", "Gynaecology", "Dr.", (0, 1)),
]
DEMO_PATIENT = DemoPerson("patient@" + EMAIL_DOMAIN, "Елена Павлова", (Role.PATIENT,), "ru")

LOCATIONS = [
    ("Sofia — Vitosha", "bul. Vitosha 12, Sofia", "Europe/Sofia", ["+35921234567"]),
    ("Москва — Тверская", "ул. Тверская, 7, Москва", "Europe/Moscow", ["+74951234567"]),
]
ROOMS = [("Cabinet 1", "consulting room"), ("Cabinet 2", "consulting room"), ("Procedure room", "procedure room")]

RU_FAMILY = [
    ("Иванов", "Иванова"),
    ("Смирнов", "Смирнова"),
    ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"),
    ("Соколов", "Соколова"),
    ("Лебедев", "Лебедева"),
    ("Козлов", "Козлова"),
    ("Новиков", "Новикова"),
]
RU_MALE = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Иван", "Михаил"]
RU_FEMALE = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина"]
RU_PATRONYMIC = [("Александрович", "Александровна"), ("Сергеевич", "Сергеевна"), ("Иванович", "Ивановна")]
BG_FAMILY = [
    ("Георгиев", "Георгиева"),
    ("Димитров", "Димитрова"),
    ("Петров", "Петрова"),
    ("Николов", "Николова"),
    ("Стоянов", "Стоянова"),
    ("Тодоров", "Тодорова"),
]
BG_MALE = ["Георги", "Иван", "Димитър", "Николай", "Петър", "Христо"]
BG_FEMALE = ["Мария", "Иванка", "Елена", "Йорданка", "Десислава", "Гергана"]
LATIN_FAMILY = [
    ("Smith", "Smith"),
    ("Müller", "Müller"),
    ("Novak", "Novak"),
    ("Rossi", "Rossi"),
    ("Ivanov", "Ivanova"),
    ("Petrov", "Petrova"),
]
LATIN_MALE = ["John", "Lukas", "Marco", "Jan", "Peter", "David"]
LATIN_FEMALE = ["Emma", "Sofia", "Anna", "Laura", "Eva", "Julia"]


def _organisation() -> Organisation:
    org, _ = Organisation.objects.get_or_create(
        slug=DEMO_SLUG, defaults={"name": "Demo Clinic · Демо клиника", "default_language": "bg"}
    )
    return org


def _locations(org: Organisation) -> list[Location]:
    locations = []
    for name, address, zone, phones in LOCATIONS:
        location, _ = Location.objects.get_or_create(
            organisation=org, name=name, defaults={"address": address, "time_zone": zone, "phone_lines": phones}
        )
        for room_name, kind in ROOMS:
            Room.objects.get_or_create(organisation=org, location=location, name=room_name, defaults={"kind": kind})
        locations.append(location)
    return locations


def _person(org: Organisation, locations: list[Location], person: DemoPerson, password: str) -> User:
    user = User.objects.filter(email=person.email).first()
    if user is None:
        user = User.objects.create_user(
            email=person.email, password=password, full_name=person.full_name, language=person.language
        )
    member, _ = Member.objects.get_or_create(organisation=org, user=user, defaults={"title": person.title})
    for role in person.roles:
        MemberRole.objects.get_or_create(member=member, role=role)
    if person.specialty:
        specialty, _ = Specialty.objects.get_or_create(organisation=org, name=person.specialty)
        member.specialties.add(specialty)
    if Role.PATIENT not in person.roles:
        member.locations.add(*[locations[i] for i in person.locations])
    return user


def _random_patient(
    rng: random.Random, org: Organisation, family: tuple[str, str], female: bool, style: str, birth: date
) -> Patient:
    if style == "ru":
        given = rng.choice(RU_FEMALE if female else RU_MALE)
        middle = rng.choice(RU_PATRONYMIC)[1 if female else 0]
        phone = f"+7916{rng.randrange(10**7):07d}"
        language = "ru"
    elif style == "bg":
        given = rng.choice(BG_FEMALE if female else BG_MALE)
        middle = ""
        phone = f"+35988{rng.randrange(10**7):07d}"
        language = "bg"
    else:
        given = rng.choice(LATIN_FEMALE if female else LATIN_MALE)
        middle = ""
        phone = f"+3598{rng.choice('789')}{rng.randrange(10**7):07d}"
        language = "en"
    return Patient(
        organisation=org,
        family_name=family[1 if female else 0],
        given_name=given,
        middle_name=middle,
        birth_date=birth,
        sex=Patient.Sex.FEMALE if female else Patient.Sex.MALE,
        phone=phone,
        language=language,
    )


def _patients(org: Organisation, demo_patient_user: User) -> int:
    """Create families until the organisation has PATIENT_COUNT patients; returns how many were added."""
    existing = Patient.objects.filter(organisation=org).count()
    if existing >= PATIENT_COUNT:
        return 0
    rng = random.Random(20261123 + existing)
    today = date.today()
    added = 0
    if not Patient.objects.filter(organisation=org, user=demo_patient_user).exists():
        Patient.objects.create(
            organisation=org,
            user=demo_patient_user,
            family_name="Павлова",
            given_name="Елена",
            middle_name="Игоревна",
            birth_date=date(1988, 4, 12),
            sex=Patient.Sex.FEMALE,
            email=demo_patient_user.email or "",
            language="ru",
        )
        added += 1
    while existing + added < PATIENT_COUNT:
        style = rng.choice(["ru", "ru", "bg", "bg", "latin"])
        families = {"ru": RU_FAMILY, "bg": BG_FAMILY, "latin": LATIN_FAMILY}[style]
        family = rng.choice(families)
        size = min(rng.choice([1, 1, 2, 3, 4]), PATIENT_COUNT - existing - added)
        adult_female = rng.random() < 0.6
        parent = _random_patient(
            rng, org, family, adult_female, style, today - timedelta(days=rng.randint(25 * 365, 70 * 365))
        )
        parent.save()
        added += 1
        for i in range(size - 1):
            spouse = i == 0 and size >= 3
            female = (not adult_female) if spouse else rng.random() < 0.5
            years = rng.randint(25, 70) if spouse else rng.randint(1, 17)
            member = _random_patient(rng, org, family, female, style, today - timedelta(days=years * 365))
            member.save()
            added += 1
            if spouse:
                Relationship.objects.create(
                    organisation=org, patient=member, relative=parent, kind=Relationship.Kind.SPOUSE
                )
            else:
                Relationship.objects.create(
                    organisation=org, patient=member, relative=parent, kind=Relationship.Kind.PARENT, is_proxy=True
                )
    return added


DEMO_TAGS = [("VIP programme", "#b45309"), ("Dental plan", "#2563eb"), ("Recall in 6 months", "#7c3aed")]
DEMO_NOTES = [
    "Prefers appointments after 17:00.",
    "Hard of hearing: speak slowly on the phone.",
    "Asked for a quote for the full treatment plan.",
]


def _patient_extras(org: Organisation) -> None:
    """Tags, primary phone rows, a few home phones and notes, so the patient list and card have something to show.
    Runs once per organisation (the tags are the marker)."""
    if Tag.objects.filter(organisation=org).exists():
        return
    tags = [Tag.objects.create(organisation=org, name=name, colour=colour) for name, colour in DEMO_TAGS]
    patients = list(Patient.objects.filter(organisation=org).order_by("pk"))
    PatientPhone.objects.bulk_create(
        [PatientPhone(organisation=org, patient=p, number=p.phone, is_primary=True) for p in patients if p.phone],
        ignore_conflicts=True,
    )
    through = Patient.tags.through
    through.objects.bulk_create(
        [through(patient_id=p.pk, tag_id=tags[i % len(tags)].pk) for i, p in enumerate(patients[::7])],
        ignore_conflicts=True,
    )
    for i, patient in enumerate(patients[1:40:13]):
        PatientPhone.objects.create(
            organisation=org, patient=patient, number=f"+3592981{i:04d}", kind=PatientPhone.Kind.HOME
        )
        note = PatientNote.objects.create(organisation=org, patient=patient, text=DEMO_NOTES[i % len(DEMO_NOTES)])
        TimelineEntry.objects.create(
            organisation=org,
            patient=patient,
            kind=TimelineEntry.Kind.NOTE,
            occurred_at=note.created_at,
            title="Note",
            body=note.text,
            ref_type="patients.patientnote",
            ref_id=str(note.pk),
        )


# (English, Russian, Bulgarian, minutes, price, colour, online, specialties performing it)
SERVICES = [
    ("Consultation", "Консультация", "Консултация", 30, "60.00", "#0f766e", True, None),
    (
        "Video consultation 30 min",
        "Видеоконсультация 30 мин",
        "Видеоконсултация 30 мин",
        30,
        "50.00",
        "#0891b2",
        True,
        None,
    ),
    (
        "Thread lift",
        "Нитевой лифтинг",
        "Лифтинг с конци",
        30,
        "450.00",
        "#7c3aed",
        False,
        {"Aesthetic medicine", "Plastic surgery"},
    ),
    (
        "Fillers",
        "Филлеры",
        "Филъри",
        60,
        "380.00",
        "#db2777",
        True,
        {"Aesthetic medicine", "Cosmetology", "Dermatology"},
    ),
    ("Botox", "Ботокс", "Ботокс", 15, "250.00", "#2563eb", True, {"Aesthetic medicine", "Cosmetology", "Dermatology"}),
]
# Visits of these services happen by video call (Service.is_video).
VIDEO_SERVICES = {"Video consultation 30 min"}
REASONS = [
    (Reason.Kind.CANCEL, "Patient asked to cancel", "Пациент попросил отменить", "Пациентът поиска отмяна"),
    (Reason.Kind.CANCEL, "Doctor unavailable", "Врач недоступен", "Лекарят не е на разположение"),
    (Reason.Kind.CANCEL, "Booked by mistake", "Записан по ошибке", "Записан по грешка"),
    (Reason.Kind.NO_SHOW, "Did not come, no notice", "Не пришёл без предупреждения", "Не дойде без предупреждение"),
    (Reason.Kind.NO_SHOW, "Could not be reached", "Не удалось связаться", "Не можахме да се свържем"),
]
SCHEDULE_DAYS_BACK, SCHEDULE_DAYS_AHEAD = 7, 28


def _calendar(org: Organisation, locations: list[Location]) -> None:
    """Services, reasons, shift templates, weekday shifts around today and monthly hour norms for every doctor."""
    BookingPolicy.objects.get_or_create(organisation=org)
    for kind, en, ru, bg in REASONS:
        Reason.objects.get_or_create(organisation=org, kind=kind, name=en, defaults={"name_ru": ru, "name_bg": bg})
    doctors = list(
        Member.objects.filter(organisation=org, roles__role=Role.DOCTOR).prefetch_related("specialties", "locations")
    )
    for en, ru, bg, minutes, price, colour, online, specialties in SERVICES:
        service, created = Service.objects.get_or_create(
            organisation=org,
            name=en,
            defaults={
                "name_ru": ru,
                "name_bg": bg,
                "duration_minutes": minutes,
                "price": price,
                "colour": colour,
                "online_bookable": online,
                "is_video": en in VIDEO_SERVICES,
                "grid_minutes": 15,
            },
        )
        if created:
            service.practitioners.set(
                [d for d in doctors if specialties is None or {s.name for s in d.specialties.all()} & specialties]
            )
    morning, _ = ShiftTemplate.objects.get_or_create(
        organisation=org,
        name="Morning",
        defaults={"start_time": time(9), "end_time": time(14), "breaks": [["11:30", "11:45"]]},
    )
    afternoon, _ = ShiftTemplate.objects.get_or_create(
        organisation=org,
        name="Afternoon",
        defaults={"start_time": time(13), "end_time": time(19), "breaks": [["16:00", "16:30"]]},
    )
    today = date.today()
    for index, doctor in enumerate(doctors):
        doctor_locations = list(doctor.locations.all())
        for offset in range(-SCHEDULE_DAYS_BACK, SCHEDULE_DAYS_AHEAD + 1):
            day = today + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            location = doctor_locations[(day.toordinal() + index) % len(doctor_locations)]
            template = morning if (day.toordinal() + index) % 2 else afternoon
            start = datetime.combine(day, template.start_time, tzinfo=location.zone)
            end = datetime.combine(day, template.end_time, tzinfo=location.zone)
            if Shift.objects.filter(practitioner=doctor, start__lt=end, end__gt=start).exists():
                continue
            shift_create_from_template(actor=None, practitioner=doctor, location=location, day=day, template=template)
    _hour_norms(org, doctors, today)


NORM_MINUTES_PER_WEEKDAY = 5 * 60


def _hour_norms(org: Organisation, doctors: list[Member], today: date) -> None:
    """Last, this and next month's norm for every doctor: five hours a weekday, about what the demo shifts give, so
    the schedule page shows both surpluses and deficits carried over."""
    this_month = today.replace(day=1)
    months = [
        (this_month - timedelta(days=1)).replace(day=1),
        this_month,
        (this_month + timedelta(days=32)).replace(day=1),
    ]
    for month in months:
        following = (month + timedelta(days=32)).replace(day=1)
        weekdays = sum(1 for i in range((following - month).days) if (month + timedelta(days=i)).weekday() < 5)
        for doctor in doctors:
            HourNorm.objects.get_or_create(
                organisation=org,
                practitioner=doctor,
                month=month,
                defaults={"norm_minutes": weekdays * NORM_MINUTES_PER_WEEKDAY},
            )


def _appointments(org: Organisation) -> None:
    """A few visits today and tomorrow so the calendar is not empty on first look."""
    if Appointment.objects.filter(organisation=org).exists():
        return
    from kabinet.scheduling.availability import free_slots

    rng = random.Random(7)
    patients = list(Patient.objects.filter(organisation=org).order_by("pk")[:120])
    now = timezone.now()
    for service in Service.objects.filter(organisation=org):
        slots = free_slots(
            service=service,
            practitioner_ids=[m.pk for m in service.practitioners.all()],
            start=now,
            end=now + timedelta(days=2),
            not_before=now,
        )
        for slot in rng.sample(slots, min(len(slots), 6)):
            busy_start = slot.start - service.buffer_before
            busy_end = slot.end + service.buffer_after
            if Appointment.objects.filter(
                practitioner_id=slot.practitioner_id, busy_start__lt=busy_end, busy_end__gt=busy_start
            ).exists():
                continue
            Appointment.objects.create(
                organisation=org,
                location_id=slot.location_id,
                practitioner_id=slot.practitioner_id,
                patient=rng.choice(patients),
                service=service,
                start=slot.start,
                end=slot.end,
                busy_start=busy_start,
                busy_end=busy_end,
                status=rng.choice([Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED]),
            )


GDPR_CONSENT_BODY = """\
{% if language == "ru" %}
<p>Я, {{ patient.full_name }}{% if patient.birth_date %}, {{ patient.birth_date|date:"d.m.Y" }} г. р.{% endif %},
даю согласие {{ clinic.name }} на обработку моих персональных данных, включая данные о здоровье,
для оказания медицинских услуг, записи на приём и напоминаний о визитах.</p>
<p>Я могу отозвать согласие в любое время, написав в клинику.</p>
{% elif language == "bg" %}
<p>Аз, {{ patient.full_name }}{% if patient.birth_date %}, роден(а) на {{ patient.birth_date|date:"d.m.Y" }}{% endif %},
давам съгласие {{ clinic.name }} да обработва личните ми данни, включително данни за здравето ми, за медицински услуги,
записване на часове и напомняния.</p>
<p>Мога да оттегля съгласието си по всяко време с писмо до клиниката.</p>
{% else %}
<p>I, {{ patient.full_name }}{% if patient.birth_date %}, born {{ patient.birth_date|date:"j F Y" }}{% endif %},
agree that {{ clinic.name }} processes my personal data, including data about my health, to provide medical care,
book visits and send me reminders.</p>
<p>I may withdraw this consent at any time by writing to the clinic.</p>
{% endif %}
{% if fields.contact_by_sms %}<p>&#9745; SMS</p>{% endif %}
"""
VISIT_NOTE_BODY = """\
<h2>{{ fields.complaints|default:"—" }}</h2>
<p>{{ fields.findings|linebreaksbr }}</p>
<p><strong>{{ fields.diagnosis }}</strong></p>
<p>{{ fields.plan|linebreaksbr }}</p>
{% if fields.next_visit %}<p>{{ fields.next_visit|date:"DATE_FORMAT" }}</p>{% endif %}
"""
DOCUMENT_TEMPLATES = [
    (
        "Consent to the processing of personal data (GDPR)",
        DocumentKind.INFORMED_CONSENT,
        GDPR_CONSENT_BODY,
        [{"name": "contact_by_sms", "label": "Reminders by SMS", "type": "checkbox"}],
    ),
    (
        "Visit note",
        DocumentKind.VISIT_NOTE,
        VISIT_NOTE_BODY,
        [
            {"name": "complaints", "label": "Complaints", "type": "text", "required": True},
            {"name": "findings", "label": "Examination", "type": "textarea"},
            {"name": "diagnosis", "label": "Diagnosis", "type": "text", "required": True},
            {"name": "plan", "label": "Plan and recommendations", "type": "textarea"},
            {"name": "next_visit", "label": "Next visit", "type": "date"},
        ],
    ),
]


def _documents(org: Organisation) -> None:
    """Two document templates and the rule that every patient needs a GDPR consent (valid three years)."""
    templates = {}
    for name, kind, body, fields in DOCUMENT_TEMPLATES:
        templates[kind], _created = DocumentTemplate.objects.get_or_create(
            organisation=org, name=name, language="", defaults={"kind": kind, "body": body, "fields": fields}
        )
    MandatoryRule.objects.get_or_create(
        organisation=org,
        name="GDPR consent",
        defaults={
            "kind": DocumentKind.INFORMED_CONSENT,
            "template": templates[DocumentKind.INFORMED_CONSENT],
            "validity_days": 3 * 365,
        },
    )


@dataclass(frozen=True)
class SeedResult:
    organisation: Organisation
    logins: list[tuple[str, str, str]]  # (email, name, roles)
    patients_added: int


def seed(password: str | None = None) -> SeedResult:
    password = password or settings.DEMO_PASSWORD
    with transaction.atomic():
        org = _organisation()
        locations = _locations(org)
        logins = []
        for person in STAFF:
            _person(org, locations, person, password)
            logins.append((person.email, person.full_name, ", ".join(str(Role(r).label) for r in person.roles)))
        patient_user = _person(org, locations, DEMO_PATIENT, password)
        logins.append((DEMO_PATIENT.email, DEMO_PATIENT.full_name, str(Role.PATIENT.label)))
        added = _patients(org, patient_user)
        _patient_extras(org)
        _calendar(org, locations)
        _appointments(org)
        _documents(org)
        seed_consultations(
            org,
            admin_email="admin@" + EMAIL_DOMAIN,
            doctor_emails=["doctor1@" + EMAIL_DOMAIN, "doctor2@" + EMAIL_DOMAIN],
            patient_email=DEMO_PATIENT.email,
        )
        seed_billing(org, admin_email="admin@" + EMAIL_DOMAIN, patient_email=DEMO_PATIENT.email)
        seed_frontdesk(org, patient_email=DEMO_PATIENT.email)
    return SeedResult(organisation=org, logins=logins, patients_added=added)
