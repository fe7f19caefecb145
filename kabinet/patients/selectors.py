"""Reads of patients, scoped to who may see them: staff of the organisation, the patient, and their proxies.

Reading a patient's card or timeline writes a "patient.viewed" audit event here, in the selector, so that no page
or API endpoint can show personal data without leaving a trace.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import reduce
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, F, IntegerField, Lookup, Prefetch, Q, QuerySet, Value, When

from kabinet.audit.services import record
from kabinet.core import permissions, request_context
from kabinet.core.exceptions import NotFound
from kabinet.core.models import Location, Member, Organisation, Role
from kabinet.patients import cards, filters, namewords
from kabinet.patients.filters import PatientCriteria
from kabinet.patients.models import (
    ImportJob,
    Patient,
    PatientEmail,
    PatientNote,
    PatientPhone,
    Relationship,
    Segment,
    Tag,
    TimelineEntry,
)
from kabinet.patients.searchkeys import (
    digits_of,
    fold,
    match_score,
    query_variants,
    search_spelling,
    typo_allowance,
)

TIMELINE_PAGE = 50
FUZZY_CANDIDATES = 2000  # SQLite: rows the typo-tolerant pass looks at, at most (in no particular order)
FUZZY_RESULTS = 200  # SQLite: best typo matches listed
DICTIONARY_CANDIDATES = 500  # corrections of one query looked for in the names, at most (the best ones)
PHONE_FRAGMENT_DIGITS = 4  # fewer digits match most of a large clinic; card numbers still match exactly
FAMILY_DEPTH = 2  # parent → child → the child's other parent / siblings


_OWN_ATTR = "_kabinet_own_patients"


def own_patient_ids(user: Any) -> set[int]:
    """Patient records the user is, or may act for (wards through a proxy relationship).

    Inside an HTTP request (RequestContextMiddleware) the answer is cached on the user object for that request only:
    an access check and a selector of the same request ask once. Elsewhere — services called directly, tasks,
    websocket consumers whose user object lives as long as the socket — it is looked up every time."""
    if not getattr(user, "is_authenticated", False):
        return set()
    ctx = request_context.current()
    cached = getattr(user, _OWN_ATTR, None)
    if ctx is not None and cached is not None and cached[0] is ctx:
        return set(cached[1])
    own = set(Patient.objects.filter(user=user).values_list("pk", flat=True))
    wards = Relationship.objects.filter(relative_id__in=own, is_proxy=True).values_list("patient_id", flat=True)
    ids = own | set(wards)
    if ctx is not None:
        setattr(user, _OWN_ATTR, (ctx, frozenset(ids)))
    return ids


def patients_visible_to(user: Any, organisation: Organisation | None = None) -> QuerySet[Patient]:
    staff_orgs = [
        org_id
        for org_id in permissions.organisations_of(user)
        if permissions.is_staff_of(user, org_id) and (organisation is None or org_id == organisation.pk)
    ]
    if organisation is not None and staff_orgs:
        # Staff of the organisation see all its patients, their own records there among them: those need no look-up.
        return Patient.objects.filter(organisation=organisation)
    condition = Q(organisation_id__in=staff_orgs) | Q(pk__in=own_patient_ids(user))
    qs = Patient.objects.filter(condition)
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs


def patient_get(*, user: Any, patient_id: int, organisation: Organisation | None = None) -> Patient:
    """The patient if the user may see them, else NotFound (never reveal that another clinic's patient exists)."""
    patient = patients_visible_to(user, organisation).filter(pk=patient_id).first()
    if patient is None:
        raise NotFound()
    return patient


def patient_topic_group(user: Any, patient_id: int) -> str | None:
    """Staff of the patient's organisation may follow the patient's timeline live (realtime topic "patient")."""
    patient = Patient.objects.filter(pk=patient_id).only("organisation_id").first()
    if patient is None or not permissions.is_staff_of(user, patient.organisation_id):
        return None
    return patient_group(patient_id)


def patient_group(patient_id: int) -> str:
    return f"patient.{patient_id}"


# --- search ------------------------------------------------------------------------------------------------------


class _HasWordAmong(Lookup):
    """`string_to_array(search_text, ' ') && words` (PostgreSQL): some word of the key is one of `words`, whole —
    answered by the GIN index over the words of `search_text` (migration 0009), one index key per word."""

    lookup_name = "patients_has_word_among"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> Any:
        return "%s", (list(value),)  # one parameter: the list, which psycopg sends as an array

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"string_to_array({lhs}, ' ') && {rhs}::text[]", (*lhs_params, *rhs_params)


def _phone_variants(digits: str) -> list[str]:
    """Digit strings to look for in E.164 numbers: as typed, without the international or national prefix."""
    variants = {digits}
    if digits.startswith("00"):
        variants.add(digits[2:])
    elif digits.startswith("0") and len(digits) > 3:
        variants.add(digits[1:])  # 0888 123 456 (Bulgaria) → 888123456 inside +359888123456
    if len(digits) == 11 and digits.startswith("8"):
        variants.add("7" + digits[1:])  # 8 916 … (Russia) → +7 916 …
    return sorted(variants, key=len)


def _any_of(querysets: list[QuerySet[Any]]) -> Q:
    """`pk IN (… UNION …)`: each arm can use its own index (trigram on phones and emails, the card number's unique
    index); the equivalent OR of conditions on different columns makes PostgreSQL scan the whole clinic."""
    first, *rest = [qs.order_by() for qs in querysets]  # no ORDER BY inside a UNION (the models have orderings)
    return Q(pk__in=first.union(*rest) if rest else first)


def _contact_ids(organisation: Organisation, *, digits: str = "", card: str = "", email: str = "") -> Q:
    """Patients whose phones contain the digits (in any usual spelling), whose card number is `card` (with or
    without leading zeros), or whose email addresses contain `email`."""
    patients = Patient.objects.filter(organisation=organisation)
    arms: list[QuerySet[Any]] = []
    if card:
        cards = {card, card.zfill(6), card.lstrip("0") or "0"} if card.isdigit() else {card}
        arms.append(patients.filter(card_number__in=sorted(cards)).values("pk"))
    if len(digits) >= PHONE_FRAGMENT_DIGITS:
        for variant in _phone_variants(digits):
            arms.append(patients.filter(phone__contains=variant).values("pk"))
            phones = PatientPhone.objects.filter(organisation=organisation, number__contains=variant)
            arms.append(phones.values("patient_id"))
    if email:
        arms.append(patients.filter(email__contains=email).values("pk"))
        addresses = PatientEmail.objects.filter(organisation=organisation, address__contains=email)
        arms.append(addresses.values("patient_id"))
    return _any_of(arms)


def _name_condition(word: str) -> Q:
    spelling = search_spelling(word)
    return Q(search_text__contains=spelling) if spelling else Q()


def _as_date(text: str) -> date | None:
    """A birth date typed as 31.12.1990, 31/12/1990 or 1990-12-31."""
    for pattern in ("%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


@dataclass
class _ParsedQuery:
    condition: Q
    name_words: list[str]  # folded words matched against names (candidates for typo tolerance)
    other: Q  # the phone / email / card parts, which must match exactly


def _parse(text: str, organisation: Organisation) -> _ParsedQuery:
    """One box: a phone in any format (or a fragment of it), an email, a card number, or words of a name."""
    text = text.strip()
    digits = digits_of(text)
    birth_date = _as_date(text)
    if birth_date is not None:
        condition = Q(birth_date=birth_date)
        return _ParsedQuery(condition, [], condition)
    if digits and not any(ch.isalpha() for ch in text):
        condition = _contact_ids(organisation, digits=digits, card=digits)
        return _ParsedQuery(condition, [], condition)
    condition, other, words = Q(), Q(), []
    for token in text.split()[:6]:
        if "@" in token:
            part = _contact_ids(organisation, email=token.lower())
            other &= part
        elif token.isdigit():
            part = _contact_ids(organisation, digits=token, card=token)
            other &= part
        else:
            part = _name_condition(token)
            if not part:
                continue
            words.append(fold(token))
        condition &= part
    return _ParsedQuery(condition, words, other)


def _ordered_by(qs: QuerySet[Patient], pks: list[int]) -> QuerySet[Patient]:
    order = Case(*[When(pk=pk, then=Value(i)) for i, pk in enumerate(pks)], output_field=IntegerField())
    return qs.filter(pk__in=pks).annotate(match_rank=order).order_by("match_rank")


def _best_score(word: str, tokens: list[str]) -> int | None:
    """`match_score` of the word against the best-matching word of a name."""
    scores = [score for token in tokens if (score := match_score(word, token)) is not None]
    return min(scores, default=None)


def _could_match_exactly(dictionary: namewords.Dictionary | None, words: list[str]) -> bool:
    """False when some query word occurs in no name of the clinic (PostgreSQL: inside no word of its dictionary,
    held in memory), so that nobody matches it as typed; on SQLite (no dictionary) always True.

    Saves asking the patients table: with no row to find, PostgreSQL plans `EXISTS (… LIKE '%word%' …)` as a
    sequential scan that expects an early hit, and reads all of a large clinic."""
    if dictionary is None:
        return True
    spellings = [spelling for spelling in map(search_spelling, words) if spelling]
    # A spelling with a space spans words: not a dictionary question.
    return all(dictionary.holds(spelling) for spelling in spellings if " " not in spelling)


def _fuzzy_postgresql(
    qs: QuerySet[Patient], parsed: _ParsedQuery, dictionary: namewords.Dictionary
) -> QuerySet[Patient]:
    """Every query word either inside some word of the name (as typed) or, corrected, one of its words: the
    dictionary words within the typo allowance. Both are asked of the GIN index over the words of `search_text`
    (whole words: one index key each, no substring recheck), so PostgreSQL can intersect the words' row sets
    before it reads a row. Ranked in the database by the summed `match_score` of what matched (a corrected whole
    word before a corrected start of a longer one), then by name; counted and paged there like the exact pass."""
    # The words of the clinic's names that some query word with a typo allowance matches: a few thousand words
    # compared in memory rather than a million names.
    known = namewords.similar_words(dictionary, parsed.name_words, DICTIONARY_CANDIDATES)
    # The dictionary words that hold a typed word are among them, so the dictionary answers "inside some word" too,
    # unless the look-up was cut at its limit.
    complete = len(known) < DICTIONARY_CANDIDATES
    condition, rank = Q(), []
    for word in parsed.name_words:
        spelling = search_spelling(word)
        inside: list[str] = []
        tiers: dict[int, list[str]] = {}
        if typo_allowance(word):
            for candidate in known:
                score = match_score(word, candidate)
                if score == 0:
                    inside.append(candidate)
                elif score is not None:
                    tiers.setdefault(score, []).append(candidate)
        as_typed: Q | None = Q(search_text__contains=spelling)
        if complete and typo_allowance(word) and " " not in spelling:
            as_typed = Q(_HasWordAmong(F("search_text"), sorted(inside))) if inside else None
        corrections = sorted({candidate for group in tiers.values() for candidate in group})
        either = [Q(_HasWordAmong(F("search_text"), corrections))] if corrections else []
        if as_typed is not None:
            either.append(as_typed)
        if not either:
            return qs.none()  # a word no name holds, nor anything near it
        condition &= reduce(operator.or_, either)
        whens = [When(as_typed, then=Value(0))] if as_typed is not None else []
        whens += [When(_HasWordAmong(F("search_text"), sorted(tiers[s])), then=Value(s)) for s in sorted(tiers)]
        rank.append(Case(*whens, default=Value(0), output_field=IntegerField()))
    found = qs.filter(parsed.other, condition) if parsed.other else qs.filter(condition)
    total: Any = rank[0]
    for term in rank[1:]:
        total = total + term
    return found.annotate(match_rank=total).order_by("match_rank", "family_name", "given_name", "pk")


def _fuzzy_candidates(qs: QuerySet[Patient], words: list[str]) -> list[tuple[int, str]]:
    """SQLite: a bounded set of (pk, search_text) rows that might match the words with a typo or two — names whose
    words start or end like a query word (a typo seldom hits both ends of a word)."""
    condition = Q()
    for word in words:
        for variant in query_variants(word):
            if len(variant) < 4:
                continue
            head, tail = variant[:2], variant[-2:]
            condition |= Q(search_text__startswith=head) | Q(search_text__contains=" " + head)
            condition |= Q(search_text__endswith=tail) | Q(search_text__contains=tail + " ")
    if not condition:
        return []
    return list(qs.filter(condition).order_by().values_list("pk", "search_text")[:FUZZY_CANDIDATES])


def _fuzzy(qs: QuerySet[Patient], parsed: _ParsedQuery, dictionary: namewords.Dictionary | None) -> QuerySet[Patient]:
    """Typo-tolerant pass: every name word within a small edit distance of some word of the name. PostgreSQL
    corrects the words against the clinic's dictionary; SQLite has none."""
    if dictionary is not None:
        return _fuzzy_postgresql(qs, parsed, dictionary)
    base = qs.filter(parsed.other) if parsed.other else qs
    scored: list[tuple[int, str, int]] = []
    for pk, search_text in _fuzzy_candidates(base, parsed.name_words):
        tokens = search_text.split()
        total = 0
        for word in parsed.name_words:
            score = _best_score(word, tokens)
            if score is None:
                break
            total += score
        else:
            scored.append((total, search_text, pk))
    scored.sort()
    return _ordered_by(qs, [pk for _, _, pk in scored[:FUZZY_RESULTS]])


def patient_search(
    *,
    user: Any,
    organisation: Organisation,
    query: str = "",
    criteria: PatientCriteria | None = None,
) -> QuerySet[Patient]:
    """Patients the user may see, narrowed by the criteria and the one-box query, best matches first.

    Exact (substring) matches of every word come first; when there are none, names within one or two typing
    mistakes per word are found, a corrected whole word ranking before a corrected start of a word. PostgreSQL
    corrects each word against the clinic's name-word dictionary (held in memory, `namewords`) and finds the names that
    hold a correction through the GIN index over their words, ranking and paging in the database; SQLite takes at
    most FUZZY_CANDIDATES rows whose words start or end alike and checks the edit distance in Python. Phones match
    from PHONE_FRAGMENT_DIGITS digits on, in any spelling (+359…, 0…, 00…, 8…).
    """
    criteria = criteria or PatientCriteria(query=query)
    text = (criteria.query or query).strip()
    qs = filters.apply(patients_visible_to(user, organisation), criteria, organisation).prefetch_related("tags")
    if not text:
        return qs.order_by("family_name", "given_name", "pk")
    parsed = _parse(text, organisation)
    exact = qs.filter(parsed.condition)
    if parsed.name_words:
        first = query_variants(parsed.name_words[0])
        starts = Q()
        for variant in first:
            starts |= Q(search_text__startswith=variant)
        exact = exact.annotate(
            match_rank=Case(When(starts, then=Value(0)), default=Value(1), output_field=IntegerField())
        ).order_by("match_rank", "family_name", "given_name", "pk")
        if any(typo_allowance(w) for w in parsed.name_words):
            # Read once for both questions (one query for its state; the words are held in memory).
            dictionary = namewords.clinic_dictionary(organisation.pk) if connection.vendor == "postgresql" else None
            if not _could_match_exactly(dictionary, parsed.name_words) or not exact.exists():
                return _fuzzy(qs, parsed, dictionary)
        return exact
    return exact.order_by("family_name", "given_name", "pk")


def search_page(qs: QuerySet[Patient], number: Any, per_page: int = 25) -> Page[Patient]:
    return Paginator(qs, per_page).get_page(number)


@dataclass
class FilterChoices:
    tags: list[Tag]
    doctors: list[Member]
    locations: list[Location]
    services: list[Any]


def filter_choices(*, organisation: Organisation) -> FilterChoices:
    """Options for the search form's selects (four queries, whatever the size of the clinic)."""
    tags = list(Tag.objects.filter(organisation=organisation).order_by("name"))
    doctors: list[Member] = []
    locations: list[Location] = []
    services: list[Any] = []
    source = filters.visit_source()
    if source is not None:
        doctors = list(
            Member.objects.filter(organisation=organisation, is_active=True, roles__role=Role.DOCTOR)
            .select_related("user")
            .order_by("user__full_name")
            .distinct()
        )
        locations = list(Location.objects.filter(organisation=organisation, is_active=True).order_by("name"))
        services = list(source.service_model._default_manager.filter(organisation=organisation).order_by("name"))
    return FilterChoices(tags=tags, doctors=doctors, locations=locations, services=services)


# --- the card ----------------------------------------------------------------------------------------------------


@dataclass
class RelativeRow:
    relationship: Relationship
    other: Patient
    kind: str  # what `other` is to the card's patient (Relationship.Kind)
    label: str
    other_is_proxy: bool  # `other` may act for the card's patient
    patient_is_proxy: bool  # the card's patient may act for `other`


@dataclass
class PatientCard:
    patient: Patient
    phones: list[str]
    phone_rows: list[PatientPhone]
    emails: list[str]
    email_rows: list[PatientEmail]
    tags: list[Tag]
    relatives: list[RelativeRow]
    notes: list[PatientNote]
    age: int | None
    flags: dict[str, Any] = field(default_factory=dict)


def family_ids(patient: Patient) -> set[int]:
    """The patient and everyone linked to them within FAMILY_DEPTH steps (one query per step)."""
    seen = {patient.pk}
    frontier = {patient.pk}
    for _ in range(FAMILY_DEPTH):
        links = Relationship.objects.filter(Q(patient_id__in=frontier) | Q(relative_id__in=frontier)).values_list(
            "patient_id", "relative_id"
        )
        found = {pk for pair in links for pk in pair} - seen
        if not found:
            break
        seen |= found
        frontier = found
    return seen


def _relatives(patient: Patient) -> list[RelativeRow]:
    rows: list[RelativeRow] = []
    links = Relationship.objects.filter(Q(patient=patient) | Q(relative=patient)).select_related("patient", "relative")
    for link in links.order_by("pk"):
        if link.patient_id == patient.pk:
            kind = Relationship.Kind(link.kind)
            rows.append(RelativeRow(link, link.relative, kind.value, str(kind.label), link.is_proxy, False))
        else:
            inverse = Relationship.INVERSE[Relationship.Kind(link.kind)]
            rows.append(RelativeRow(link, link.patient, inverse.value, str(inverse.label), False, link.is_proxy))
    return rows


def _viewed(user: Any, patient: Patient, part: str) -> None:
    record(actor=user, action="patient.viewed", obj=patient, patient=patient, after={"part": part})


def patient_card(*, user: Any, patient_id: int, organisation: Organisation | None = None) -> PatientCard:
    """Everything the card header and its relatives / notes / details tabs show; audited as a read.
    The query count does not depend on the number of phones, relatives, notes or timeline entries."""
    patient = (
        patients_visible_to(user, organisation)
        .filter(pk=patient_id)
        .prefetch_related(
            Prefetch("phones", queryset=PatientPhone.objects.order_by("-is_primary", "pk")),
            Prefetch("emails", queryset=PatientEmail.objects.order_by("-is_primary", "pk")),
            "tags",
        )
        .first()
    )
    if patient is None:
        raise NotFound()
    phone_rows = list(patient.phones.all())
    email_rows = list(patient.emails.all())
    # Patients created outside the services (portal sign-up, seeds) may have only the primary column filled.
    phones = _merge_primary(patient.phone, [p.number for p in phone_rows])
    emails = _merge_primary(patient.email, [e.address for e in email_rows])
    family = family_ids(patient)
    notes = list(
        PatientNote.objects.filter(
            Q(patient=patient) | Q(patient_id__in=family - {patient.pk}, scope=PatientNote.Scope.FAMILY)
        )
        .select_related("author", "patient")
        .order_by("-created_at", "-pk")[:100]
    )
    _viewed(user, patient, "card")
    flags = {
        "allergies": patient.allergies,
        "vip": patient.is_vip,
        "special_notes": patient.special_notes,
        # None until an app registers a value (kabinet.patients.cards): records, billing.
        "missing_documents": None,
        "missing_signatures": None,
        "debt": None,
    }
    flags.update(cards.flag_values(user, patient))
    return PatientCard(
        patient=patient,
        phones=phones,
        phone_rows=phone_rows,
        emails=emails,
        email_rows=email_rows,
        tags=list(patient.tags.all()),
        relatives=_relatives(patient),
        notes=notes,
        age=patient.age(),
        flags=flags,
    )


def _merge_primary(primary: str, others: list[str]) -> list[str]:
    merged = [primary] if primary else []
    merged += [value for value in others if value != primary]
    return merged


def timeline_entries(*, user: Any, patient: Patient, kind: str = "", audit: bool = True) -> QuerySet[TimelineEntry]:
    """The patient's timeline for staff of the patient's organisation, newest first, optionally one kind only.
    Audited as a read unless the caller already recorded this view (the card records one event for the page)."""
    if not permissions.is_staff_of(user, patient.organisation_id):
        raise NotFound()
    qs = TimelineEntry.objects.filter(patient=patient).select_related("actor").order_by("-occurred_at", "-pk")
    if kind:
        qs = qs.filter(kind=kind)
    if audit:
        _viewed(user, patient, "timeline")
    return qs


def timeline(
    *, user: Any, patient: Patient, kind: str = "", page: Any = 1, per_page: int = TIMELINE_PAGE, audit: bool = True
) -> Page[TimelineEntry]:
    """One page of `timeline_entries` (a count and a page query, whatever the length of the timeline)."""
    entries = timeline_entries(user=user, patient=patient, kind=kind, audit=audit)
    return Paginator(entries, per_page).get_page(page)


def relative_candidates(*, user: Any, patient: Patient, query: str, limit: int = 10) -> list[Patient]:
    """Patients of the same organisation a registrar may link as relatives (search by name, phone or card)."""
    if len(query.strip()) < 2:
        return []
    found = patient_search(user=user, organisation=patient.organisation, query=query).exclude(pk=patient.pk)
    return list(found[:limit])


# --- imports and segments ----------------------------------------------------------------------------------------

IMPORT_VIEW_ROLES = (Role.ADMIN, Role.REGISTRAR)


def import_job_get(*, user: Any, job_id: int, organisation: Organisation | None = None) -> ImportJob:
    """An import job of an organisation where the user may import (ADMIN, REGISTRAR); NotFound otherwise."""
    job = ImportJob.objects.filter(pk=job_id).select_related("organisation").first()
    if (
        job is None
        or (organisation is not None and job.organisation_id != organisation.pk)
        or not permissions.has_role(user, job.organisation_id, *IMPORT_VIEW_ROLES)
    ):
        raise NotFound()
    return job


def segments_of(*, user: Any, organisation: Organisation) -> QuerySet[Segment]:
    """The organisation's saved segments, for its staff (none for anyone else)."""
    if not permissions.is_staff_of(user, organisation):
        return Segment.objects.none()
    return Segment.objects.filter(organisation=organisation).order_by("name", "pk")


def segment_get(*, user: Any, segment_id: int, organisation: Organisation | None = None) -> Segment:
    segment = Segment.objects.filter(pk=segment_id).select_related("organisation").first()
    if (
        segment is None
        or (organisation is not None and segment.organisation_id != organisation.pk)
        or not permissions.is_staff_of(user, segment.organisation_id)
    ):
        raise NotFound()
    return segment


def segment_patients(*, user: Any, segment: Segment) -> QuerySet[Patient]:
    """The segment's patients now: patient_search with the stored criteria (staff of its organisation only)."""
    if not permissions.is_staff_of(user, segment.organisation_id):
        raise NotFound()
    criteria = PatientCriteria.from_json(segment.criteria)
    return patient_search(user=user, organisation=segment.organisation, criteria=criteria)
