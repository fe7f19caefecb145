"""The name-word dictionary held in memory (PostgreSQL's typo pass): the same corrections as comparing every word
with `match_score`, and always the words the database holds now."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kabinet.patients import namewords
from kabinet.patients.models import NameWord
from kabinet.patients.searchkeys import match_score, typo_allowance
from tests.factories import OrganisationFactory, PatientFactory

LETTERS = "абвеиклнорстaeiknorsv"
words_strategy = st.lists(st.text(LETTERS, min_size=1, max_size=12), min_size=1, max_size=60, unique=True)


@settings(max_examples=300, deadline=None)
@given(words=words_strategy, typed=st.lists(st.text(LETTERS, min_size=1, max_size=11), min_size=1, max_size=3))
def test_similar_words_are_exactly_the_words_match_score_accepts(words: list[str], typed: list[str]) -> None:
    expected: dict[str, int] = {}
    for word in typed:
        if not typo_allowance(word):
            continue
        for known in words:
            score = match_score(word, known)
            if score is not None:
                expected[known] = min(score, expected.get(known, score))
    found = namewords.similar_words(namewords.Dictionary.of(words), typed, limit=1000)
    assert found == sorted(expected, key=lambda known: (expected[known], known))


def test_similar_words_finds_swaps_starts_and_the_other_alphabet() -> None:
    words = namewords.Dictionary.of(
        ["иванов", "ivanov", "иванова", "ivanova", "петров", "petrov", "smirnova", "смирнова"]
    )
    assert namewords.similar_words(words, ["ивнаов"], limit=10) == ["ivanov", "иванов", "ivanova", "иванова"]
    assert namewords.similar_words(words, ["smirnva"], limit=10) == ["smirnova"]
    assert namewords.similar_words(words, ["ива"], limit=10) == []  # too short for a typo allowance
    assert namewords.similar_words(words, ["ивнаов"], limit=2) == ["ivanov", "иванов"]  # the best ones


@pytest.mark.django_db
def test_the_dictionary_follows_the_database() -> None:
    org, other = OrganisationFactory.create(), OrganisationFactory.create()
    PatientFactory.create(organisation=org, family_name="Ivanov", given_name="Petr")
    PatientFactory.create(organisation=other, family_name="Smith", given_name="Jane")
    NameWord.objects.bulk_create(
        [NameWord(organisation=org, word=w) for w in ("ivanov", "petr")], ignore_conflicts=True
    )
    first = namewords.clinic_dictionary(org.pk)
    assert {"ivanov", "petr"} <= set(first.words) and "smith" not in first.words
    assert first.holds("vano") and not first.holds("smith")
    assert namewords.clinic_dictionary(org.pk) is first  # unchanged: not read again

    NameWord.objects.create(organisation=org, word="sidorov")  # as another process's new patient would
    assert namewords.clinic_dictionary(org.pk).holds("sidorov")

    NameWord.objects.filter(organisation=org, word="sidorov").delete()  # a restore of an older dictionary
    assert not namewords.clinic_dictionary(org.pk).holds("sidorov")
