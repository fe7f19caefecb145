"""The clinic's name-word dictionary (`NameWord`) held in memory, for the typo-tolerant search on PostgreSQL.

A typed word is compared with every word of the clinic's names by RapidFuzz's edit distance (C++): about a
millisecond for a few thousand words, where pg_trgm's word similarity took 10–17 ms for 2,443 words (a sequential
scan: at the low threshold a typo needs, the trigram index cannot narrow anything down). `match_score` then decides
on the few words left, exactly as before.

A process reads a clinic's words once and again only when they changed: each search asks the database for the
count and the highest id of the clinic's words (one index look-up), so a word that another process added is seen at
once, and a dictionary that was restored or rolled back is read anew. Words are never removed; a stale word only
finds nobody."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Count, Max
from rapidfuzz import process
from rapidfuzz.distance import OSA

from kabinet.patients.models import NameWord
from kabinet.patients.searchkeys import match_score, query_variants, typo_allowance

CACHED_STARTS_UP_TO = 20_000  # words; a larger dictionary cuts its words' starts per search instead of keeping them


class Dictionary:
    """A clinic's name words, split by script (a word can match a typed word only if they share letters), with
    the starts of its words cut to the lengths searched so far (the typo pass compares those, per search)."""

    def __init__(self, last_id: int, words: Sequence[str]) -> None:
        self.last_id = last_id  # the highest NameWord id when the words were read
        self.words = tuple(words)
        self.text = "\n".join(self.words)  # "is it inside some word?" in one substring search
        self._scripts = {
            "ascii": tuple(word for word in self.words if any(ch.isascii() for ch in word)),
            "other": tuple(word for word in self.words if not word.isascii()),
            "all": self.words,
        }
        self._starts: dict[tuple[str, int], list[str]] = {}

    @classmethod
    def of(cls, words: Sequence[str]) -> Dictionary:
        """A dictionary of the given words (not read from the database)."""
        return cls(0, words)

    def holds(self, spelling: str) -> bool:
        """Some word contains `spelling` (which has no line break)."""
        return spelling in self.text

    def words_sharing_letters(self, variant: str) -> tuple[str, tuple[str, ...]]:
        """The script bucket of words that can share a letter with `variant`."""
        if variant.isascii():
            script = "ascii"
        elif not any(ch.isascii() for ch in variant):
            script = "other"
        else:
            script = "all"
        return script, self._scripts[script]

    def starts(self, script: str, length: int) -> list[str]:
        """The words of the script cut to `length` letters (shorter ones whole), in the bucket's order."""
        cut = self._starts.get((script, length))
        if cut is None:
            cut = [word[:length] for word in self._scripts[script]]
            if len(self.words) <= CACHED_STARTS_UP_TO:
                self._starts[(script, length)] = cut
        return cut


_held: dict[tuple[str, int], Dictionary] = {}


def clinic_dictionary(organisation_id: int) -> Dictionary:
    """The words of the clinic's names, as the database holds them now."""
    key = (str(connection.settings_dict["NAME"]), organisation_id)
    words = NameWord.objects.filter(organisation_id=organisation_id)
    state = words.aggregate(count=Count("pk"), last_id=Max("pk"))
    count, last_id = state["count"], state["last_id"] or 0
    held = _held.get(key)
    if held is not None and (len(held.words), held.last_id) == (count, last_id):
        return held
    # The highest id was read before the words: a word added in between makes the next search read them again.
    held = Dictionary(last_id, list(words.values_list("word", flat=True)))
    _held[key] = held
    return held


def similar_words(dictionary: Dictionary, query_words: list[str], limit: int) -> list[str]:
    """The words that some query word with a typo allowance matches (`match_score` is not None): the typed word is
    inside them, or within its allowance of the whole word or of a start of it. Best match first, at most `limit`."""
    best: dict[str, int] = {}
    for word in query_words:
        allowance = typo_allowance(word)
        if not allowance:
            continue
        candidates: set[str] = set()
        for variant in query_variants(word):
            script, words = dictionary.words_sharing_letters(variant)
            candidates.update(known for known in words if variant in known)
            # A start of a word within the allowance has about the variant's length; a shorter word is compared
            # whole. RapidFuzz only narrows the list down: `match_score` below decides.
            for length in range(max(1, len(variant) - allowance), len(variant) + allowance + 1):
                starts = dictionary.starts(script, length)
                found = process.extract(variant, starts, scorer=OSA.distance, score_cutoff=allowance, limit=None)
                candidates.update(words[index] for _, _, index in found)
        for known in candidates:
            score = match_score(word, known)
            if score is not None and score < best.get(known, score + 1):
                best[known] = score
    return sorted(best, key=lambda known: (best[known], known))[:limit]
