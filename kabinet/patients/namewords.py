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
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, Max
from rapidfuzz import process
from rapidfuzz.distance import OSA

from kabinet.patients.models import NameWord
from kabinet.patients.searchkeys import match_score, query_variants, typo_allowance


class Dictionary(NamedTuple):
    size: int
    last_id: int
    words: tuple[str, ...]
    text: str  # the words one per line: `"\n" + spelling` … a quick "is it inside some word?"

    def holds(self, spelling: str) -> bool:
        """Some word of the dictionary contains `spelling` (which has no line break)."""
        return spelling in self.text


_held: dict[tuple[str, int], Dictionary] = {}


def clinic_dictionary(organisation_id: int) -> Dictionary:
    """The words of the clinic's names, as the database holds them now."""
    key = (str(connection.settings_dict["NAME"]), organisation_id)
    words = NameWord.objects.filter(organisation_id=organisation_id)
    state = words.aggregate(count=Count("pk"), last_id=Max("pk"))
    count, last_id = state["count"], state["last_id"] or 0
    held = _held.get(key)
    if held is not None and (held.size, held.last_id) == (count, last_id):
        return held
    loaded = tuple(words.values_list("word", flat=True))
    # Counted before the words were read: a word added in between makes the next search read them again.
    held = Dictionary(count, last_id, loaded, "\n".join(loaded))
    _held[key] = held
    return held


def similar_words(words: Sequence[str], query_words: list[str], limit: int) -> list[str]:
    """The words that some query word with a typo allowance matches (`match_score` is not None): the typed word is
    inside them, or within its allowance of the whole word or of a start of it. Best match first, at most `limit`."""
    best: dict[str, int] = {}
    for word in query_words:
        allowance = typo_allowance(word)
        if not allowance:
            continue
        candidates: set[int] = set()
        for variant in query_variants(word):
            candidates.update(i for i, known in enumerate(words) if variant in known)
            # A start of a word within the allowance has about the variant's length; a shorter word is compared
            # whole. RapidFuzz only narrows the list down: `match_score` below decides.
            for length in range(max(1, len(variant) - allowance), len(variant) + allowance + 1):
                starts = [known[:length] for known in words]
                found = process.extract(variant, starts, scorer=OSA.distance, score_cutoff=allowance, limit=None)
                candidates.update(index for _, _, index in found)
        for index in candidates:
            score = match_score(word, words[index])
            if score is not None and score < best.get(words[index], score + 1):
                best[words[index]] = score
    return sorted(best, key=lambda known: (best[known], known))[:limit]
