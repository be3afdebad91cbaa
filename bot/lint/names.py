"""Event names as a tracking plan sees them: whether a name follows the `object_action` snake_case
convention (lowercase words joined by single underscores; the order of the words is the team's to
choose, so it is not checked) and what its snake_case form is, the keys under which near-duplicates
meet, grouping by them, and "did you mean" for a name PostHog does not know. Pure functions over
strings; nothing here reads PostHog.

Two names are near-duplicates when they are the same after ignoring case, separators (`-`, `_`, space,
`.`, camelCase boundaries), the abbreviations in `ABBREVIATIONS`, word form (`clicked`, `clicks` and
`clicking` are `click`: see `stem`), the words in `FILLER_WORDS`, and either word order or the gaps
between words (`sign_up` and `signup`). So `click` and `Click` are one group, and `button-click`,
`btnClick` and `user_clicked_button` are another.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

POSTHOG_PREFIX = "$"  # PostHog's own events (`$pageview`, `$identify`) keep PostHog's names

# Short forms seen in event names, and the word each stands for. Kept small on purpose: an entry
# here makes two names one group, so only abbreviations with one common meaning belong in it.
ABBREVIATIONS: Mapping[str, str] = {
    "acct": "account",
    "addr": "address",
    "btn": "button",
    "cfg": "configuration",
    "config": "configuration",
    "dl": "download",
    "doc": "document",
    "img": "image",
    "msg": "message",
    "nav": "navigation",
    "notif": "notification",
    "org": "organization",
    "pg": "page",
    "pref": "preference",
    "pw": "password",
    "pwd": "password",
    "qty": "quantity",
    "req": "request",
    "txn": "transaction",
    "usr": "user",
    "vid": "video",
}

# Words that say nothing about what happened: `user_clicked_button` is `button` + `click`.
FILLER_WORDS = frozenset(
    {"an", "at", "be", "been", "did", "do", "does", "event", "had", "has", "have", "is", "of"}
    | {"on", "the", "to", "user", "was", "were"}
)

_SEPARATORS = re.compile(r"[\W_]+")  # anything but letters and digits (Unicode-aware)
_VOWELS = frozenset("aeiouy")
_KEEP_DOUBLE = frozenset("lsz")


def _ascii_folded(text: str) -> str:
    """Accents dropped (`café` -> `cafe`); letters without an ASCII form stay as they are."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _split_camel(segment: str) -> list[str]:
    """`btnClick` -> btn, Click; `HTTPRequest` -> HTTP, Request; `step2Done` -> step2, Done."""
    words: list[str] = []
    start = 0
    for i in range(1, len(segment)):
        char, before = segment[i], segment[i - 1]
        after = segment[i + 1] if i + 1 < len(segment) else ""
        if char.isupper() and (
            before.islower() or before.isdigit() or (before.isupper() and after.islower())
        ):
            words.append(segment[start:i])
            start = i
    words.append(segment[start:])
    return [w for w in words if w]


def words(name: str) -> list[str]:
    """The words of a name, in order, as written (case kept)."""
    out: list[str] = []
    for segment in _SEPARATORS.split(_ascii_folded(name)):
        if segment:
            out += _split_camel(segment)
    return out


def snake_case(name: str) -> str:
    """The snake_case form of a name: `btnClick` -> `btn_click`, `Button Click` -> `button_click`.
    Empty when the name has no letters or digits. A `$` prefix is kept."""
    prefix = POSTHOG_PREFIX if name.startswith(POSTHOG_PREFIX) else ""
    body = "_".join(w.lower() for w in words(name[len(prefix) :]))
    return prefix + body if body else ""


def is_snake_case(name: str) -> bool:
    """Lowercase words joined by single underscores (`onboarding_completed`, `signup`, `step_2`)."""
    return bool(name) and snake_case(name) == name


def breaks_convention(name: str) -> bool:
    """A custom event whose name is not snake_case; PostHog's `$` events are exempt."""
    return not name.startswith(POSTHOG_PREFIX) and not is_snake_case(name)


def _has_vowel(text: str) -> bool:
    return any(c in _VOWELS for c in text)


def stem(word: str) -> str:
    """A light, deterministic stemmer for event-name words: `clicked`, `clicks`, `clicking` and
    `click` all give `click`; `completed` and `complete` give `complet`; `shipped` gives `ship`.
    Only for comparing names (it makes no claim to be English); lowercase input."""
    if len(word) <= 2 or not word.isalpha():
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("es") and word[:-2].endswith(("sh", "ch", "x", "ss", "z")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    elif word.endswith("ing") and len(word) > 4 and _has_vowel(word[:-3]):
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 3 and _has_vowel(word[:-2]):
        word = word[:-2]
    if word.endswith("e") and len(word) > 2:
        word = word[:-1]
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in _VOWELS | _KEEP_DOUBLE:
        word = word[:-1]  # shipp -> ship, and ship stays ship
    return word


def _canonical_word(word: str) -> str:
    word = word.casefold()
    word = ABBREVIATIONS.get(word, word)
    stemmed = stem(word)
    if stemmed in ABBREVIATIONS:  # btns -> btn -> button
        stemmed = stem(ABBREVIATIONS[stemmed])
    return stemmed


def _expanded(word: str) -> str:
    folded = word.casefold()
    return ABBREVIATIONS.get(folded, folded)


@functools.lru_cache(maxsize=16_384)  # one report of up to 10,000 names, twice over
def _forms(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(canonical words, words with abbreviations expanded but not stemmed), both in order and without
    filler words (all of them when every word is filler)."""
    body = name[1:] if name.startswith(POSTHOG_PREFIX) else name
    raw = words(body)
    filler = [w.casefold() in FILLER_WORDS or _canonical_word(w) in FILLER_WORDS for w in raw]
    if all(filler):
        filler = [False] * len(raw)
    kept = [w for w, skip in zip(raw, filler, strict=True) if not skip]
    return tuple(_canonical_word(w) for w in kept), tuple(_expanded(w) for w in kept)


def canonical_key(name: str) -> str:
    """What a name means, ignoring how it is written and the order of its words: `btnClick`,
    `button-click` and `user_clicked_button` all give `button click`. Empty for a name without
    letters or digits."""
    return " ".join(sorted(set(_forms(name)[0])))


def joined_keys(name: str) -> frozenset[str]:
    """The name's words in their order without gaps, so `sign_up`, `signed_up` and `signup` meet, and
    `page_view` and `pageviews`: each word stemmed then joined, and the words joined then stemmed."""
    canonical, expanded = _forms(name)
    return frozenset({"".join(canonical), stem("".join(expanded))} - {""})


def near_duplicate_keys(name: str) -> frozenset[str]:
    """Every key under which `name` meets its near-duplicates (see the module's docstring)."""
    canonical = canonical_key(name)
    return joined_keys(name) | ({f"words:{canonical}"} if canonical else set())


def near_duplicate_groups(names: Iterable[str]) -> list[list[str]]:
    """Names that are one event written differently: groups of two or more, each sorted by name,
    the groups sorted by their first member. Names are joined when their canonical keys or joined
    keys are equal (transitively)."""
    unique = sorted(set(names))
    parent = list(range(len(unique)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for i, name in enumerate(unique):
        for key in near_duplicate_keys(name):
            if key in first_with:
                parent[root(i)] = root(first_with[key])
            else:
                first_with[key] = i
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(unique):
        groups.setdefault(root(i), []).append(name)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def suggest_keep(members: Sequence[str], volume: Callable[[str], int | None]) -> str:
    """Which name of a group to keep: the highest-volume one that follows the convention (PostHog's
    `$` names count as following it); when none does, the snake_case form of the highest-volume one."""

    def rank(name: str) -> tuple[int, int, str]:
        return (-(volume(name) or 0), len(name), name)

    conforming = [m for m in members if not breaks_convention(m)]
    if conforming:
        return min(conforming, key=rank)
    best = min(members, key=rank)
    return snake_case(best) or best


class KnownNames:
    """The names PostHog knows, indexed once for "did you mean": by near-duplicate key and by
    case-folded spelling. `volume` ranks names that are equally close."""

    def __init__(self, names: Iterable[str], volume: Callable[[str], int | None] | None = None) -> None:
        self.names = list(dict.fromkeys(names))
        self._volume = volume or (lambda _: None)
        self._by_key: dict[str, list[str]] = {}
        self._by_folded: dict[str, list[str]] = {}
        for known in self.names:
            for key in near_duplicate_keys(known):
                self._by_key.setdefault(key, []).append(known)
            self._by_folded.setdefault(known.casefold(), []).append(known)

    def __contains__(self, name: object) -> bool:
        return name in self._by_folded.get(str(name).casefold(), ())

    def did_you_mean(self, name: str, limit: int = 3) -> list[str]:
        """Known names close to `name`: first those that are the same event written differently
        (highest volume first), then the closest spellings (difflib, ignoring case). At most `limit`,
        never `name` itself."""
        same = {k for key in near_duplicate_keys(name) for k in self._by_key.get(key, ())}
        ranked = sorted(same - {name}, key=lambda k: (-(self._volume(k) or 0), k))
        folded = [f for f in self._by_folded if f != name.casefold() or self._by_folded[f] != [name]]
        close = difflib.get_close_matches(name.casefold(), folded, n=limit, cutoff=0.6)
        out: list[str] = []
        for candidate in [*ranked, *(k for f in close for k in self._by_folded[f])]:
            if candidate != name and candidate not in out:
                out.append(candidate)
        return out[:limit]


def did_you_mean(
    name: str, known: Iterable[str], volume: Callable[[str], int | None] | None = None, limit: int = 3
) -> list[str]:
    """`KnownNames(known, volume).did_you_mean(name, limit)`, for one question."""
    return KnownNames(known, volume).did_you_mean(name, limit)
