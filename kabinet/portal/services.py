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

SIGNUP_IP_SCOPE = "signup-ip"
SIGNUP_IP_LIMIT_PER_HOUR = 10


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
    """Create (or find) a portal account without a password plus the patient record, and email an activation code.

    The person proves the email by entering the code and choosing their own password on the booking page; no
    password is generated. The answer is the same whether the email was known, so nobody learns who is a patient.
    """
    errors: dict[str, list[str]] = {}
    if not family_name.strip():
        errors["family_name"] = [_("Enter your family name.")]
    if not given_name.strip():
        errors["given_name"] = [_("Enter your given name.")]
    email_norm = normalize_email(email)
    if not email_norm:
        errors["email"] = [_("Enter your email: we send the code there.")]
    try:
        phone_norm = normalize_phone(phone) or ""
    except ValidationError as exc:
        errors["phone"] = list(exc.messages)
        phone_norm = ""
    if errors:
        raise Invalid(errors=errors)
    if ip:
        ratelimit.ensure_below(SIGNUP_IP_SCOPE, ip, limit=SIGNUP_IP_LIMIT_PER_HOUR, window_seconds=3600)
        ratelimit.hit(SIGNUP_IP_SCOPE, ip)
    with transaction.atomic():
        user = User.objects.filter(email=email_norm).first()
        if user is not None and not user.needs_activation:
            return  # an active account: the page tells everyone to check their email or log in
        if user is None:
            user = User.objects.create_user(
                email=email_norm,
                full_name=f"{given_name.strip()} {family_name.strip()}",
                language=language or organisation.default_language,
            )
            record(actor=None, action="account.signed_up", obj=user, organisation=organisation)
        member, _created = Member.objects.get_or_create(organisation=organisation, user=user)
        MemberRole.objects.get_or_create(member=member, role=Role.PATIENT)
        if not Patient.objects.filter(organisation=organisation, user=user).exists():
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
        activation_start(actor=None, user=user)


def organisation_for_booking(slug: str) -> Organisation | None:
    return Organisation.objects.filter(slug=slug).first()
