"""Search keys: text folded to lower case without accents, plus a Latin transliteration of Cyrillic.

Both the stored `Patient.search_text` and every query go through the same folding in Python, so SQLite and
PostgreSQL see identical keys ("Ёлкина" and "ёлкина" and "elkina" all meet at "елкина elkina").
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import OSA

# One Latin spelling per Cyrillic letter (Russian and Bulgarian); passport spellings differ ("kh"/"h", "shch"/"sht"),
# which the typo-tolerant pass absorbs.
_LATIN = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "д": "d",
        "е": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ф": "f",
        "х": "h",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "sht",
        "ъ": "a",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
        "і": "i",
        "ї": "yi",
        "є": "ye",
        "ґ": "g",
    }
)
_NOT_WORD = re.compile(r"[^\w]+|_")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def fold(text: str) -> str:
    """Lower case, accents and other combining marks removed (ё→е, й→и, ü→u), punctuation as single spaces."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def to_latin(folded: str) -> str:
    """The Latin spelling of already folded text (Latin text comes back unchanged)."""
    return folded.translate(_LATIN)


def has_cyrillic(text: str) -> bool:
    return bool(_CYRILLIC.search(text))


def name_key(*parts: str) -> str:
    """What `Patient.search_text` stores: the folded name, then its Latin spelling when it differs."""
    folded = fold(" ".join(p for p in parts if p))
    latin = to_latin(folded)
    return folded if latin == folded else f"{folded} {latin}"


def query_variants(word: str) -> list[str]:
    """The spellings of one query word to look for: folded, and its Latin form for Cyrillic input."""
    folded = fold(word)
    if not folded:
        return []
    latin = to_latin(folded)
    return [folded] if latin == folded else [folded, latin]


def search_spelling(word: str) -> str:
    """The one spelling of a query word to look for inside `Patient.search_text`: its Latin form. Every stored key
    holds the Latin spelling of the whole name (`name_key`) and transliteration goes letter by letter, so a key that
    contains the folded Cyrillic word contains its Latin form too; looking for both only doubles the index work."""
    return to_latin(fold(word))


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours); `limit + 1` when it is above
    `limit`. RapidFuzz computes it in C++, some 300 times faster than the same table in Python: the typo pass
    compares every query word with hundreds of dictionary words and their starts."""
    return int(OSA.distance(a, b, score_cutoff=limit))


def match_score(word: str, token: str) -> int | None:
    """How well one query word matches one word of a name, lower is better, None beyond the word's typo allowance:
    0 when the word is inside the token; else twice the fewest edits to the whole token, or twice the fewest edits
    to a start of it plus one (the person may type a prefix, but "stepan" matches "степан" better than "степанов")."""
    best: int | None = None
    allowance = typo_allowance(word)
    for variant in query_variants(word):
        if variant in token:
            return 0
        if allowance == 0:
            continue
        whole = edit_distance(variant, token, allowance)
        if whole <= allowance and (best is None or 2 * whole < best):
            best = 2 * whole
        lengths = range(max(1, len(variant) - allowance), min(len(token) - 1, len(variant) + allowance) + 1)
        for prefix in {token[:length] for length in lengths}:
            distance = edit_distance(variant, prefix, allowance)
            if distance <= allowance and (best is None or 2 * distance + 1 < best):
                best = 2 * distance + 1
    return best


def typo_allowance(word: str) -> int:
    """How many edits a query word may be away from a name: none for short words, one for 4-7 letters, else two."""
    if len(word) < 4:
        return 0
    return 1 if len(word) < 8 else 2
