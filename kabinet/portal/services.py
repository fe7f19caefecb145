"""Patient self-service use cases: quick sign-up from the public booking page."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kabinet.accounts import ratelimit
from kabinet.accounts.models import User, normalize_email, normalize_phone
from kabinet.accounts.services import activation_start
from kabinet.audit.services import record
from kabinet.core.exceptions import Invalid
from kabinet.core.models import Member, MemberRole, Organisation, Role
from kabinet.patients.models import Patient
from kabinet.portal import notices

SIGNUP_IP_SCOPE = "signup-ip"
SIGNUP_IP_LIMIT_PER_HOUR = 10
SIGNUP_PHONE_SCOPE = "signup-phone"
SIGNUP_SMS_LIMIT_PER_HOUR = 3


def patient_signup_start(
    *,
    organisation: Organisation,
    family_name: str,
    given_name: str,
    email: str,
    phone: str = "",
    language: str = "",
    ip: str | None = None,
) -> None:
    """Create (or find) a portal account without a password plus the patient record, and send an activation code:
    by email, or by SMS to a person who gave only a phone.

    The person proves the address by entering the code and choosing their own password on the booking page; no
    password is generated. The answer is the same whether the address was known, so nobody learns who is a patient.
    """
    errors: dict[str, list[str]] = {}
    if not family_name.strip():
        errors["family_name"] = [_("Enter your family name.")]
    if not given_name.strip():
        errors["given_name"] = [_("Enter your given name.")]
    email_norm = normalize_email(email)
    try:
        phone_norm = normalize_phone(phone) or ""
    except ValidationError as exc:
        errors["phone"] = list(exc.messages)
        phone_norm = ""
    if not email_norm and not phone_norm and "phone" not in errors:
        errors["email"] = [_("Enter your email or your mobile phone: we send the code there.")]
    if errors:
        raise Invalid(errors=errors)
    if ip:
        ratelimit.ensure_below(SIGNUP_IP_SCOPE, ip, limit=SIGNUP_IP_LIMIT_PER_HOUR, window_seconds=3600)
        ratelimit.hit(SIGNUP_IP_SCOPE, ip)
    if not email_norm:  # each code costs an SMS and lands on someone's phone: few per number
        ratelimit.ensure_below(SIGNUP_PHONE_SCOPE, phone_norm, limit=SIGNUP_SMS_LIMIT_PER_HOUR, window_seconds=3600)
        ratelimit.hit(SIGNUP_PHONE_SCOPE, phone_norm)
    with transaction.atomic():
        user = User.objects.get_by_login(email_norm or phone_norm)
        if user is not None and not user.needs_activation:
            return  # an active account: the page tells everyone to check their messages or log in
        if user is None:
            user = User.objects.create_user(
                email=email_norm,
                phone=None if email_norm else phone_norm,
                full_name=f"{given_name.strip()} {family_name.strip()}",
                language=language or organisation.default_language,
            )
            record(actor=None, action="account.signed_up", obj=user, organisation=organisation)
        member, _created = Member.objects.get_or_create(organisation=organisation, user=user)
        MemberRole.objects.get_or_create(member=member, role=Role.PATIENT)
        patient = Patient.objects.filter(organisation=organisation, user=user).first()
        if patient is None:
            patient = Patient.objects.create(
                organisation=organisation,
                user=user,
                family_name=family_name.strip(),
                given_name=given_name.strip(),
                email=email_norm or "",
                phone=phone_norm,
                language=language or organisation.default_language,
            )
            record(
                actor=None, action="patient.created", obj=patient, patient=patient, after={"source": "online_signup"}
            )
        code = activation_start(actor=None, user=user)  # emailed when the account has an email
        if not user.email and not notices.signup_code_sms(organisation=organisation, patient=patient, code=code):
            raise Invalid(
                errors={"phone": [_("We cannot send an SMS to this number now. Enter your email instead.")]},
                code="sms_unavailable",
            )


def organisation_for_booking(slug: str) -> Organisation | None:
    return Organisation.objects.filter(slug=slug).first()
