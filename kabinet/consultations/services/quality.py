"""Quality: the patient's rating of an ended contract (1–5 and a comment, once per contract), and the
administrators' review of the medical quality of a sample of conversations (1–5 and a note, per reviewer)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kabinet.audit.services import record
from kabinet.consultations import access
from kabinet.consultations.models import ConsultationContract, ConsultationMessage, ContractRating, QualityReview
from kabinet.core.exceptions import Conflict, Invalid, NotAllowed, NotFound
from kabinet.patients.selectors import own_patient_ids

COMMENT_MAX = 2000


def contract_rate(*, actor: Any, contract: ConsultationContract, score: int, comment: str = "") -> ContractRating:
    """The patient side rates an ended contract once; the rating counts for the contract's doctor."""
    if contract.patient_id not in own_patient_ids(actor):
        raise NotFound()
    if contract.status != ConsultationContract.Status.ENDED:
        raise Conflict(_("You can rate the consultation once it has ended."), code="contract_not_ended")
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise Invalid(errors={"score": [_("Choose from 1 to 5 stars.")]})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise Invalid(errors={"comment": [_("A comment may have at most 2,000 characters.")]})
    try:
        with transaction.atomic():
            rating = ContractRating.objects.create(
                organisation_id=contract.organisation_id,
                contract=contract,
                doctor_id=contract.doctor_id,
                score=score,
                comment=comment,
                created_by=actor,
            )
            record(
                actor=actor,
                action="consultation.contract.rated",
                obj=contract,
                patient=contract.patient_id,
                after={"score": score},
            )
    except IntegrityError:
        raise Conflict(_("You have already rated this consultation. Thank you!"), code="already_rated") from None
    return rating


def quality_review_save(*, actor: Any, contract: ConsultationContract, score: Any, comment: str = "") -> QualityReview:
    """An administrator scores the conversation of a contract (again: the score is replaced). Audited."""
    if not access.can_supervise(actor, contract.organisation_id):
        raise NotAllowed(_("Only administrators review the quality of consultations."))
    if not ConsultationMessage.objects.filter(contract=contract).exists():
        raise Conflict(_("There is nothing to review in this contract yet."), code="nothing_to_review")
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise Invalid(errors={"score": [_("Choose from 1 to 5.")]})
    comment = (comment or "").strip()[:COMMENT_MAX]
    with transaction.atomic():
        review, created = QualityReview.objects.update_or_create(
            contract=contract,
            reviewer=actor,
            defaults={
                "organisation_id": contract.organisation_id,
                "doctor_id": contract.doctor_id,
                "score": score,
                "comment": comment,
            },
        )
        record(
            actor=actor,
            action="consultation.quality.reviewed",
            obj=contract,
            patient=contract.patient_id,
            after={"score": score, "review": review.pk, "new": created},
        )
    return review
