"""What consultations tell people through the notifications outbox, and the events' built-in wording.

Called by the services inside their transactions, so a message commits (or rolls back) with its cause.

Idempotency keys (notifications appends `#<channel>`):
  consult:<conv>:to-patient:<message>          a new reply, for the patient, due after the "offline" delay
  consult:<conv>:to-staff:<message>:<user>     a new patient message, for the doctor and the care team
  consult:<conv>:overdue:<due>:doctor:<user>   the reply due at <due> is overdue (the doctor, then …)
  consult:<conv>:overdue:<due>:admin:<user>    … the administrators)
  consult:contract:<id>:opened / :ended        consult:req:<id>:taken / :answered
  consult:<conv>:video:<call>                  a video call started in a conversation
  consult:visit:<appointment>:video:<call>     the call of a video visit started
"New message" notices wait CONSULTATIONS_NOTIFY_AFTER_SECONDS and are cancelled when the recipient reads the
conversation first: someone who has the conversation open gets it live and no push, SMS or email. While one such
notice is queued for a side, further messages add none (one notice per burst).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kabinet.core.models import Member, Organisation, Role
from kabinet.notifications import events
from kabinet.notifications import services as notifications
from kabinet.notifications.events import EventType, Wording
from kabinet.notifications.models import Channel
from kabinet.notifications.models import Message as OutboxMessage
from kabinet.notifications.rendering import moment_variables
from kabinet.patients.models import Patient

STAFF_CHANNELS = (Channel.INAPP, Channel.EMAIL)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def patient_link(conversation_id: int | None = None) -> str:
    return _site(f"/my/consultations/{conversation_id}/" if conversation_id else "/my/consultations/")


def staff_link(conversation_id: int | None = None) -> str:
    return _site(f"/consultations/c/{conversation_id}/" if conversation_id else "/consultations/")


def doctor_name(member: Member) -> str:
    """How patients see their doctor: title and name, never a phone or an email (str(user) may be one)."""
    name = (member.user.full_name or "").strip()
    title = (member.title or "").strip()
    if title and name.lower().startswith(title.lower()):
        title = ""  # "Dr." and "Dr. Maria Stoyanova": the name already carries it
    return " ".join(part for part in (title, name) if part) or str(gettext("Doctor"))


def author_name(message: Any) -> str:
    """Who wrote a message, by name only: the doctor or colleague for the clinic's side; for the patient's side the
    writer's name (the patient, or a relative acting for them), else the patient's."""
    if message.side == "staff":
        if message.author_member_id:
            return doctor_name(message.author_member)
        return str(gettext("Clinic"))
    name = (getattr(message.author, "full_name", "") or "").strip() if message.author_id else ""
    return name or str(message.conversation.patient)


def _base(organisation: Organisation, patient: Patient, doctor: Member | None) -> dict[str, Any]:
    return {
        "patient": {"name": str(patient), "first_name": patient.given_name},
        "doctor": {"name": doctor_name(doctor) if doctor else ""},
        "clinic": {"name": organisation.name},
    }


def _queued(prefix: str) -> bool:
    return OutboxMessage.objects.filter(idempotency_key__startswith=prefix, state=OutboxMessage.State.QUEUED).exists()


def new_message(*, conversation: Any, message: Any, recipients: list[Any], actor: Any) -> None:
    """Tell the other side about a new message unless they read it within the delay (see the module's doc)."""
    organisation = conversation.organisation
    due = timezone.now() + timedelta(seconds=settings.CONSULTATIONS_NOTIFY_AFTER_SECONDS)
    context = _base(organisation, conversation.patient, conversation.doctor)
    if message.side == "staff":
        prefix = f"consult:{conversation.pk}:to-patient:"
        if _queued(prefix):
            return
        notifications.schedule(
            organisation=organisation,
            event="consultation.message.patient",
            key=f"{prefix}{message.pk}",
            context={**context, "links": {"portal": patient_link(conversation.pk)}},
            patient=conversation.patient,
            due_at=due,
            time_zone=_zone_name(conversation),
            ref_type="consultations.conversation",
            ref_id=conversation.pk,
            actor=actor,
        )
        return
    prefix = f"consult:{conversation.pk}:to-staff:"
    if _queued(prefix):
        return
    for user in recipients:
        notifications.schedule(
            organisation=organisation,
            event="consultation.message.staff",
            key=f"{prefix}{message.pk}:{user.pk}",
            context={**context, "links": {"portal": staff_link(conversation.pk)}},
            user=user,
            channels=STAFF_CHANNELS,
            due_at=due,
            time_zone=_zone_name(conversation),
            ref_type="consultations.conversation",
            ref_id=conversation.pk,
            actor=actor,
        )


def conversation_read(*, conversation: Any, side: str) -> None:
    """The side has read the conversation: its pending "new message" notices are not needed any more."""
    target = "to-patient" if side == "patient" else "to-staff"
    notifications.cancel(
        organisation_id=conversation.organisation_id,
        prefix=f"consult:{conversation.pk}:{target}:",
        reason="read in the conversation",
    )


def _zone_name(conversation: Any) -> str | None:
    return conversation.location.time_zone if conversation.location_id else None


def contract_opened(*, contract: Any, actor: Any) -> None:
    context = _base(contract.organisation, contract.patient, contract.doctor)
    notifications.send(
        organisation=contract.organisation,
        event="consultation.contract.opened",
        key=f"consult:contract:{contract.pk}:opened",
        context={
            **context,
            "until": contract.ends_on.isoformat(),
            "links": {"portal": patient_link(contract.conversation_id)},
        },
        patient=contract.patient,
        quiet_hours=False,
        ref_type="consultations.contract",
        ref_id=contract.pk,
        actor=actor,
    )


def contract_ended(*, contract: Any, actor: Any) -> None:
    context = _base(contract.organisation, contract.patient, contract.doctor)
    notifications.send(
        organisation=contract.organisation,
        event="consultation.contract.ended",
        key=f"consult:contract:{contract.pk}:ended",
        context={**context, "links": {"portal": patient_link(contract.conversation_id)}},
        patient=contract.patient,
        ref_type="consultations.contract",
        ref_id=contract.pk,
        actor=actor,
    )


def request_changed(*, request: Any, state: str, actor: Any) -> None:
    """`state` is "taken" or "answered": the patient learns their question or callback is being handled."""
    context = _base(request.organisation, request.patient, request.taken_by)
    notifications.send(
        organisation=request.organisation,
        event=f"consultation.request.{state}",
        key=f"consult:req:{request.pk}:{state}",
        context={**context, "links": {"portal": patient_link()}},
        patient=request.patient,
        quiet_hours=state == "answered",
        ref_type="consultations.request",
        ref_id=request.pk,
        actor=actor,
    )


def overdue(*, conversation: Any, level: str, recipients: list[Any]) -> int:
    """Tell the doctor (level "doctor") or the administrators ("admin") that a reply is overdue. Idempotent per
    recipient and deadline. Returns the number of recipients written to."""
    assert conversation.due_at is not None
    context = {
        **_base(conversation.organisation, conversation.patient, conversation.doctor),
        "due": conversation.due_at,
        "links": {"portal": staff_link(conversation.pk)},
    }
    for user in recipients:
        notifications.send(
            organisation=conversation.organisation,
            event=f"consultation.overdue.{level}",
            key=f"consult:{conversation.pk}:overdue:{_stamp(conversation.due_at)}:{level}:{user.pk}",
            context=context,
            user=user,
            channels=STAFF_CHANNELS,
            time_zone=_zone_name(conversation),
            ref_type="consultations.conversation",
            ref_id=conversation.pk,
        )
    return len(recipients)


def video_started(*, call: Any, actor: Any, conversation: Any = None, appointment: Any = None) -> None:
    """The patient is called: a link to join, due now (who waits for a call wants no quiet hours). The call of a
    `conversation`, or of a video visit (`appointment`): then in the visit's time zone, and worth joining until an
    hour after the visit's end."""
    if (conversation is None) == (appointment is None):
        raise TypeError("video_started: give either a conversation or an appointment")
    if appointment is not None:
        source, doctor, key = appointment, appointment.practitioner, f"consult:visit:{appointment.pk}:video:{call.pk}"
        zone, until = appointment.location.time_zone, max(call.started_at, appointment.end)
    else:
        source, doctor, key = conversation, conversation.doctor, f"consult:{conversation.pk}:video:{call.pk}"
        zone, until = None, call.started_at
    context = _base(source.organisation, source.patient, doctor)
    notifications.send(
        organisation=source.organisation,
        event="consultation.video.started",
        key=key,
        context={**context, "links": {"portal": _site(f"/my/consultations/video/{call.pk}/")}},
        patient=source.patient,
        quiet_hours=False,
        time_zone=zone,
        expires_at=until + timedelta(hours=1),
        ref_type="consultations.video",
        ref_id=call.pk,
        actor=actor,
    )


def administrators(organisation_id: int) -> list[Any]:
    members = Member.objects.filter(organisation_id=organisation_id, is_active=True, roles__role=Role.ADMIN)
    return [m.user for m in members.select_related("user").distinct().order_by("pk")]


# --- the events' built-in wording ------------------------------------------------------------------------------

_PEOPLE = frozenset({"patient.name", "patient.first_name", "doctor.name", "clinic.name", "links.portal"})


def _same(subject: dict[str, str], long: dict[str, str], short: dict[str, str]) -> dict[str, Wording]:
    return {lang: Wording(subject=subject[lang], long=long[lang], short=short[lang]) for lang in ("en", "ru", "bg")}


def register_events() -> None:
    events.register(
        EventType(
            key="consultation.message.patient",
            label=_("Consultation: new reply for the patient"),
            variables=_PEOPLE,
            wording=_same(
                {
                    "en": "New message from {{ doctor.name }}",
                    "ru": "Новое сообщение от врача {{ doctor.name }}",
                    "bg": "Ново съобщение от {{ doctor.name }}",
                },
                {
                    "en": "Hello, {{ patient.first_name }}!\n\n{{ doctor.name }} has written to you. Read and reply: "
                    "{{ links.portal }}\n\n{{ clinic.name }}",
                    "ru": "Здравствуйте, {{ patient.first_name }}!\n\nВрач {{ doctor.name }} написал(а) вам. "
                    "Прочитать и ответить: {{ links.portal }}\n\n{{ clinic.name }}",
                    "bg": "Здравейте, {{ patient.first_name }}!\n\n{{ doctor.name }} ви написа съобщение. "
                    "Прочетете и отговорете: {{ links.portal }}\n\n{{ clinic.name }}",
                },
                {
                    "en": "{{ clinic.name }}: new message from {{ doctor.name }}: {{ links.portal }}",
                    "ru": "{{ clinic.name }}: новое сообщение от врача {{ doctor.name }}: {{ links.portal }}",
                    "bg": "{{ clinic.name }}: ново съобщение от {{ doctor.name }}: {{ links.portal }}",
                },
            ),
        )
    )
    events.register(
        EventType(
            key="consultation.message.staff",
            label=_("Consultation: new patient message for the doctor"),
            variables=_PEOPLE,
            wording=_same(
                {
                    "en": "{{ patient.name }} wrote in a consultation",
                    "ru": "{{ patient.name }}: новое сообщение в консультации",
                    "bg": "{{ patient.name }}: ново съобщение в консултация",
                },
                {
                    "en": "{{ patient.name }} has written to you.\n\nOpen the conversation: {{ links.portal }}",
                    "ru": "Пациент {{ patient.name }} написал(а) вам.\n\nОткрыть переписку: {{ links.portal }}",
                    "bg": "Пациентът {{ patient.name }} ви написа.\n\nОтворете разговора: {{ links.portal }}",
                },
                {
                    "en": "New message from {{ patient.name }}",
                    "ru": "Новое сообщение: {{ patient.name }}",
                    "bg": "Ново съобщение: {{ patient.name }}",
                },
            ),
        )
    )
    events.register(
        EventType(
            key="consultation.contract.opened",
            label=_("Consultation opened"),
            variables=_PEOPLE | {"until"},
            wording=_same(
                {
                    "en": "You can now write to {{ doctor.name }}",
                    "ru": "Теперь вы можете писать врачу {{ doctor.name }}",
                    "bg": "Вече можете да пишете на {{ doctor.name }}",
                },
                {
                    "en": "Hello, {{ patient.first_name }}!\n\nYour remote consultation with {{ doctor.name }} is open "
                    "until {{ until }}. Write your questions, send readings, photos or voice messages here: "
                    "{{ links.portal }}\n\n{{ clinic.name }}",
                    "ru": "Здравствуйте, {{ patient.first_name }}!\n\nДистанционная консультация с врачом "
                    "{{ doctor.name }} открыта до {{ until }}. Задавайте вопросы, отправляйте показания, фото и "
                    "голосовые сообщения здесь: {{ links.portal }}\n\n{{ clinic.name }}",
                    "bg": "Здравейте, {{ patient.first_name }}!\n\nДистанционната ви консултация с {{ doctor.name }} "
                    "е отворена до {{ until }}. Пишете въпросите си, изпращайте показания, снимки и гласови "
                    "съобщения тук: {{ links.portal }}\n\n{{ clinic.name }}",
                },
                {
                    "en": "{{ clinic.name }}: your consultation with {{ doctor.name }} is open: {{ links.portal }}",
                    "ru": "{{ clinic.name }}: консультация с врачом {{ doctor.name }} открыта: {{ links.portal }}",
                    "bg": "{{ clinic.name }}: консултацията ви с {{ doctor.name }} е отворена: {{ links.portal }}",
                },
            ),
        )
    )
    events.register(
        EventType(
            key="consultation.contract.ended",
            label=_("Consultation ended"),
            variables=_PEOPLE,
            wording=_same(
                {
                    "en": "Your consultation with {{ doctor.name }} has ended",
                    "ru": "Консультация с врачом {{ doctor.name }} завершена",
                    "bg": "Консултацията ви с {{ doctor.name }} приключи",
                },
                {
                    "en": "Hello, {{ patient.first_name }}!\n\nYour remote consultation with {{ doctor.name }} has "
                    "ended. The conversation stays available to read. Please rate it: {{ links.portal }}\n\n"
                    "{{ clinic.name }}",
                    "ru": "Здравствуйте, {{ patient.first_name }}!\n\nДистанционная консультация с врачом "
                    "{{ doctor.name }} завершена. Переписка остаётся доступной для чтения. Пожалуйста, оцените "
                    "консультацию: {{ links.portal }}\n\n{{ clinic.name }}",
                    "bg": "Здравейте, {{ patient.first_name }}!\n\nДистанционната ви консултация с {{ doctor.name }} "
                    "приключи. Разговорът остава достъпен за четене. Моля, оценете я: {{ links.portal }}\n\n"
                    "{{ clinic.name }}",
                },
                {
                    "en": "{{ clinic.name }}: your consultation has ended. Rate it: {{ links.portal }}",
                    "ru": "{{ clinic.name }}: консультация завершена. Оцените её: {{ links.portal }}",
                    "bg": "{{ clinic.name }}: консултацията приключи. Оценете я: {{ links.portal }}",
                },
            ),
        )
    )
    events.register(
        EventType(
            key="consultation.request.taken",
            label=_("Consultation request taken"),
            variables=_PEOPLE,
            wording=_same(
                {
                    "en": "{{ doctor.name }} is handling your request",
                    "ru": "Врач {{ doctor.name }} занимается вашим обращением",
                    "bg": "{{ doctor.name }} се занимава със запитването ви",
                },
                {
                    "en": "Hello, {{ patient.first_name }}!\n\n{{ doctor.name }} has taken your request and will "
                    "answer soon: {{ links.portal }}\n\n{{ clinic.name }}",
                    "ru": "Здравствуйте, {{ patient.first_name }}!\n\nВрач {{ doctor.name }} взял(а) ваше обращение и "
                    "скоро ответит: {{ links.portal }}\n\n{{ clinic.name }}",
                    "bg": "Здравейте, {{ patient.first_name }}!\n\n{{ doctor.name }} пое запитването ви и скоро ще "
                    "отговори: {{ links.portal }}\n\n{{ clinic.name }}",
                },
                {
                    "en": "{{ clinic.name }}: {{ doctor.name }} has taken your request.",
                    "ru": "{{ clinic.name }}: врач {{ doctor.name }} взял(а) ваше обращение.",
                    "bg": "{{ clinic.name }}: {{ doctor.name }} пое запитването ви.",
                },
            ),
        )
    )
    events.register(
        EventType(
            key="consultation.request.answered",
            label=_("Consultation request answered"),
            variables=_PEOPLE,
            wording=_same(
                {
                    "en": "{{ doctor.name }} has answered your request",
                    "ru": "Врач {{ doctor.name }} ответил(а) на ваше обращение",
                    "bg": "{{ doctor.name }} отговори на запитването ви",
                },
                {
                    "en": "Hello, {{ patient.first_name }}!\n\n{{ doctor.name }} has answered your request. Read the "
                    "answer: {{ links.portal }}\n\n{{ clinic.name }}",
                    "ru": "Здравствуйте, {{ patient.first_name }}!\n\nВрач {{ doctor.name }} ответил(а) на ваше "
                    "обращение. Прочитать ответ: {{ links.portal }}\n\n{{ clinic.name }}",
                    "bg": "Здравейте, {{ patient.first_name }}!\n\n{{ doctor.name }} отговори на запитването ви. "
                    "Прочетете отговора: {{ links.portal }}\n\n{{ clinic.name }}",
                },
                {
                    "en": "{{ clinic.name }}: {{ doctor.name }} has answered your request: {{ links.portal }}",
                    "ru": "{{ clinic.name }}: врач {{ doctor.name }} ответил(а) на обращение: {{ links.portal }}",
                    "bg": "{{ clinic.name }}: {{ doctor.name }} отговори на запитването ви: {{ links.portal }}",
                },
            ),
        )
    )
    events.register(
        EventType(
            key="consultation.video.started",
            label=_("Consultation: video call"),
            variables=_PEOPLE,
            wording=_same(
                {
                    "en": "{{ doctor.name }} is calling you by video",
                    "ru": "Врач {{ doctor.name }} приглашает вас на видеоконсультацию",
                    "bg": "{{ doctor.name }} ви кани на видеоконсултация",
                },
                {
                    "en": "Hello, {{ patient.first_name }}!\n\n{{ doctor.name }} has started a video consultation. "
                    "Join it in your browser: {{ links.portal }}\n\n{{ clinic.name }}",
                    "ru": "Здравствуйте, {{ patient.first_name }}!\n\nВрач {{ doctor.name }} начал(а) "
                    "видеоконсультацию. Присоединиться в браузере: {{ links.portal }}\n\n{{ clinic.name }}",
                    "bg": "Здравейте, {{ patient.first_name }}!\n\n{{ doctor.name }} започна видеоконсултация. "
                    "Включете се от браузъра: {{ links.portal }}\n\n{{ clinic.name }}",
                },
                {
                    "en": "{{ clinic.name }}: {{ doctor.name }} is calling you by video: {{ links.portal }}",
                    "ru": "{{ clinic.name }}: видеозвонок от врача {{ doctor.name }}: {{ links.portal }}",
                    "bg": "{{ clinic.name }}: видеообаждане от {{ doctor.name }}: {{ links.portal }}",
                },
            ),
        )
    )
    due = frozenset(moment_variables("due"))
    events.register(
        EventType(
            key="consultation.overdue.doctor",
            label=_("Consultation reply overdue (doctor)"),
            variables=_PEOPLE | due,
            wording=_same(
                {
                    "en": "Overdue reply: {{ patient.name }}",
                    "ru": "Просрочен ответ: {{ patient.name }}",
                    "bg": "Просрочен отговор: {{ patient.name }}",
                },
                {
                    "en": "{{ patient.name }} has been waiting for your reply since {{ due }} (the deadline). "
                    "Please answer: {{ links.portal }}",
                    "ru": "Пациент {{ patient.name }} ждёт ответа, срок истёк {{ due }}. Пожалуйста, ответьте: "
                    "{{ links.portal }}",
                    "bg": "Пациентът {{ patient.name }} чака отговор, срокът изтече на {{ due }}. Моля, отговорете: "
                    "{{ links.portal }}",
                },
                {
                    "en": "Overdue reply to {{ patient.name }} (due {{ due }})",
                    "ru": "Просрочен ответ: {{ patient.name }} (срок {{ due }})",
                    "bg": "Просрочен отговор: {{ patient.name }} (срок {{ due }})",
                },
            ),
        )
    )
    events.register(
        EventType(
            key="consultation.overdue.admin",
            label=_("Consultation reply overdue (administrators)"),
            variables=_PEOPLE | due,
            wording=_same(
                {
                    "en": "{{ doctor.name }} has not answered {{ patient.name }}",
                    "ru": "Врач {{ doctor.name }} не ответил(а) пациенту {{ patient.name }}",
                    "bg": "{{ doctor.name }} не е отговорил(а) на {{ patient.name }}",
                },
                {
                    "en": "The reply of {{ doctor.name }} to {{ patient.name }} was due {{ due }} and is still "
                    "missing. The doctor has been reminded. Conversation: {{ links.portal }}",
                    "ru": "Ответ врача {{ doctor.name }} пациенту {{ patient.name }} нужно было дать до {{ due }}, "
                    "его всё ещё нет. Врачу уже напомнили. Переписка: {{ links.portal }}",
                    "bg": "Отговорът на {{ doctor.name }} към {{ patient.name }} трябваше да е даден до {{ due }} и "
                    "все още липсва. На лекаря вече е напомнено. Разговор: {{ links.portal }}",
                },
                {
                    "en": "Overdue: {{ doctor.name }} → {{ patient.name }} (due {{ due }})",
                    "ru": "Просрочено: {{ doctor.name }} → {{ patient.name }} (срок {{ due }})",
                    "bg": "Просрочено: {{ doctor.name }} → {{ patient.name }} (срок {{ due }})",
                },
            ),
        )
    )
