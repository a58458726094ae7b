"""Actors: the alias registry, caller-given actor specs, mention finding and actor discovery."""

from __future__ import annotations

import logging
import os
import re
import warnings
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .errors import InvalidInputError

log = logging.getLogger(__name__)

MAX_ACTORS = 32
MAX_ALIASES = 50
MAX_NAME_CHARS = 200

# Words that end organisation names: never shorten such a name to its last word.
_ORG_TAIL = {
    "party",
    "committee",
    "movement",
    "association",
    "union",
    "council",
    "court",
    "house",
    "senate",
    "congress",
    "department",
    "agency",
    "administration",
    "campaign",
    "foundation",
    "institute",
    "university",
    "news",
    "times",
    "post",
    "corporation",
    "inc",
    "group",
    "bank",
    "fund",
    "network",
    "organization",
    "organisation",
    "federation",
    "league",
    "coalition",
    "alliance",
    "government",
    "ministry",
    "office",
    "service",
    "commission",
    "board",
    "company",
    "abortion",
    "change",
    "concern",
    "brothers",
    "sisters",
    "family",
    "states",
    "nations",
    "people",
    "democrats",
    "republicans",
    "workers",
    "employees",
    "teachers",
    "nurses",
    "farmers",
    "veterans",
    "watch",
    "press",
    "club",
    "society",
    "trust",
    "center",
    "centre",
    "project",
    "forum",
    "caucus",
    "bureau",
    "authority",
    "police",
    "army",
    "navy",
    "force",
    "guard",
    "industries",
    "motors",
    "airlines",
    "pharma",
    "labs",
    "media",
    "review",
    "journal",
    "magazine",
    "tribune",
    "herald",
    "today",
}

KINDS = ("person", "organisation", "party", "place")
#: The US states: an actor named by one is a place ("the state", "its").
US_STATES = frozenset({
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
    "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky",
    "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri",
    "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York",
    "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island",
    "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington",
    "West Virginia", "Wisconsin", "Wyoming",
})  # fmt: skip
GENDERS = ("m", "f")
#: Words left out of an organisation's abbreviation ("Federal Bureau of Investigation" -> "FBI").
_ACRONYM_SKIP = {"of", "the", "and", "for", "in", "on", "to", "&"}
#: Words after a name that make it a group of people, not the person: "Sanders supporters".
GROUP_WORDS = (
    "supporters|staff|staffers|aides|voters|backers|fans|loyalists|surrogates|delegates|donors"
    "|followers|volunteers|allies"
)


NAME_SUFFIXES = frozenset({"Jr.", "Jr", "Sr.", "Sr", "II", "III", "IV"})
"""Generational suffixes, which are part of a full name but never a surname."""


@lru_cache(maxsize=1)
def given_names() -> dict[str, str]:
    """Common given names -> "m" or "f" (``model/given_names.txt``)."""
    out: dict[str, str] = {}
    for line in Path(__file__).with_name("given_names.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            g, name = line.split()
            out[name] = g
    return out


@dataclass(frozen=True)
class Title:
    """A description that names an actor without its name ("the senator from Vermont").

    ``years``: the first and last year it holds (``None``: open); a title with years is only
    used where the article's year is known and falls inside them.
    """

    text: str
    first: int | None = None
    last: int | None = None

    @property
    def timed(self) -> bool:
        return self.first is not None or self.last is not None

    def holds(self, year: int | None) -> bool:
        if not self.timed:
            return True
        if year is None:
            return False
        return (self.first is None or self.first <= year) and (self.last is None or year <= self.last)


@dataclass(frozen=True)
class Actor:
    """A named actor and the surface forms that count as mentioning it.

    ``kind`` (person, organisation, party, place: a US state; empty when unknown), ``gender`` (m, f)
    and ``roles`` (role nouns such as "senator" or "committee", each a :class:`Title` with its
    years) say which descriptions and pronouns can refer to it; ``titles`` are full descriptions that name it
    ("the senator from Vermont"); ``exact`` are aliases matched with their case ("Democratic").
    """

    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    kind: str = ""
    gender: str = ""
    titles: tuple[Title, ...] = ()
    roles: tuple[Title, ...] = ()
    exact: tuple[str, ...] = ()


Via = str
"""How a mention was found: ``"name"`` (an alias), ``"title"`` (a description or role) or ``"pronoun"``."""


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    alias: str
    via: Via = "name"


@dataclass
class ActorRegistry:
    """Canonical actors with aliases; looked up by name or alias, case-insensitively."""

    actors: list[Actor] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        self._index: dict[str, Actor] = {}
        self._titles: dict[str, Actor] = {}
        for actor in self.actors:
            for key in (actor.name, *actor.aliases):
                self._index.setdefault(key.lower(), actor)
            for t in actor.titles:
                self._titles.setdefault(t.text.lower(), actor)

    def lookup(self, name: str) -> Actor | None:
        return self._index.get(name.strip().lower())

    def title_owner(self, text: str) -> Actor | None:
        """The actor whose registry title ``text`` is ("the senator from Vermont" -> Bernie Sanders)."""
        return self._titles.get(" ".join(text.split()).lower())

    @classmethod
    def from_file(cls, path: str | Path) -> ActorRegistry:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInputError(
                f"cannot read actor registry {path}: {exc}", fix="fix the YAML file"
            ) from None
        if not isinstance(raw, dict) or not isinstance(raw.get("actors", []), list):
            raise InvalidInputError(
                f"actor registry {path}: expected a mapping with a list 'actors', found {type(raw).__name__}",
                fix="write 'actors:' followed by entries '- name: ...'",
            )
        empty = cls([])
        actors = []
        for i, item in enumerate(raw.get("actors", [])):
            where = f"{path} actors[{i}]"
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                where += f" ({item['name']})"
            actors.append(parse_actor(item, field=where, registry=empty, registry_entry=True))
        registry = cls(actors, source=str(path))
        registry.check_overlaps()
        return registry

    def check_overlaps(self) -> None:
        """Warn about an alias two entries share (the first keeps it for lookups), unless an
        ``exclude`` of either says which longer name means the other."""
        owner: dict[str, Actor] = {}
        for actor in self.actors:
            for key in dict.fromkeys(k.lower() for k in (actor.name, *actor.aliases)):
                prev = owner.setdefault(key, actor)
                if prev is not actor and not _excludes(prev, key) and not _excludes(actor, key):
                    _warn(
                        f"actor registry {self.source or '(in memory)'}: alias {key!r} of {actor.name!r} is "
                        f"also a name or alias of {prev.name!r}; {prev.name!r} keeps it for lookups. Fix: "
                        f"remove it from one of them, or list the longer name that means the other in its "
                        f"'exclude'"
                    )


def _excludes(actor: Actor, alias: str) -> bool:
    low = alias.lower()
    return any(low in ex.lower() for ex in actor.exclude)


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)
    log.warning(message)


@lru_cache(maxsize=4)
def default_registry(path: str | None = None) -> ActorRegistry:
    """The shipped registry (``model/actors.yaml``) or the file named by ``$SLANT_ACTORS``."""
    path = path or os.environ.get("SLANT_ACTORS") or str(Path(__file__).with_name("actors.yaml"))
    return ActorRegistry.from_file(path)


def is_person_name(name: str) -> bool:
    """A name of 2-4 capitalised words whose first is a common given name ("Benjamin Koellmann")."""
    words = name.split()
    return (
        2 <= len(words) <= 4
        and words[0] in given_names()
        and all(
            w[:1].isupper() and w.replace(".", "").replace("-", "").replace("'", "").isalpha() for w in words
        )
        and words[-1].lower() not in _ORG_TAIL
    )


def surname(name: str) -> str | None:
    """A person's surname as an alias, or None ("Donald Trump Jr." -> None: the suffix is not a name)."""
    last = name.split()[-1]
    if last in NAME_SUFFIXES:
        return None
    if len(last) > 2 and not last.isupper() and last.lower() not in _ORG_TAIL and last[:1].isupper():
        return last
    return None


def acronym(name: str) -> str | None:
    """An organisation's abbreviation from 3 to 6 capitalised words ("United Auto Workers" -> "UAW")."""
    words = [w for w in name.replace("-", " ").split() if w.lower() not in _ACRONYM_SKIP]
    if 3 <= len(words) <= 6 and all(w[:1].isupper() and w[:1].isalpha() for w in words):
        return "".join(w[0] for w in words)
    return None


def _default_aliases(name: str, kind: str = "") -> tuple[str, ...]:
    """The short forms texts use: a person's surname, an organisation's abbreviation; never an
    organisation's last word ("United Auto Workers" gets "UAW", not "Workers")."""
    if kind == "person" or (not kind and is_person_name(name)):
        last = surname(name) if len(name.split()) >= 2 else None
        return (name, last) if last else (name,)
    if kind in ("organisation", "party") or (not kind and len(name.split()) >= 3):
        short = acronym(name)
        return (name, short) if short else (name,)
    return (name,)


def _kind_of(name: str) -> str:
    if name in US_STATES or name.removeprefix("State of ") in US_STATES:
        return "place"
    if is_person_name(name):
        return "person"
    if name.split()[-1].lower() == "party":
        return "party"
    return "organisation" if name.split()[-1].lower() in _ORG_TAIL else ""


#: Descriptions, not names: an actor list entry like this is refused (names are wanted).
_DESCRIPTION = re.compile(r"^(?:the|a|an|this|that|our|his|her|their)\s", re.I)


def parse_actor(
    item: Any,
    *,
    field: str = "actors",
    registry: ActorRegistry | None = None,
    registry_entry: bool = False,
) -> Actor:
    """Turn ``"DNC"`` or ``{"name": ..., "aliases": [...]}`` into an Actor, with clear errors.

    A bare name found in the registry takes the registry's canonical name and aliases. Registry
    entries (``registry_entry``) may also give ``kind``, ``gender``, ``titles``, ``roles`` and
    ``exact``.

    >>> parse_actor("Bernie").name
    'Bernie Sanders'
    """
    if isinstance(item, Actor):  # parsed already (one validation: routes and batch rows parse once)
        return item
    reg = registry if registry is not None else default_registry()
    if isinstance(item, str):
        return _actor_of_name(item, field, reg)
    if isinstance(item, dict):
        return _actor_of_object(item, field, reg, registry_entry)
    raise InvalidInputError(
        f"expected an actor name or an object, found {type(item).__name__}",
        field=field,
        fix='pass "DNC" or {"name": "DNC", "aliases": ["Democratic National Committee"]}',
    )


def _actor_of_name(item: str, field: str, reg: ActorRegistry) -> Actor:
    """A bare name: the registry's actor, or one with the default aliases of its kind."""
    name = item.strip()
    _check_name(name, field)
    _check_not_description(name, field, reg)
    known = reg.lookup(name)
    if known:
        return known
    kind = _kind_of(name)
    return Actor(name=name, aliases=_default_aliases(name, kind), kind=kind, gender=_gender_of(name, kind))


def _actor_of_object(item: dict[str, Any], field: str, reg: ActorRegistry, registry_entry: bool) -> Actor:
    """``{"name", "aliases", "exclude"}`` (a registry entry also ``kind``, ``gender``, ``titles``,
    ``roles``, ``exact``), merged with the registry's actor of that name unless it is the entry."""
    _check_keys(item, field, registry_entry)
    name = _object_name(item, field)
    if not registry_entry:
        _check_not_description(name, field, reg)
    aliases = _str_list(item.get("aliases", []), f"{field}.aliases")
    exclude = _str_list(item.get("exclude", []), f"{field}.exclude")
    exact = _str_list(item.get("exact", []), f"{field}.exact")
    aliases = _matchable(aliases, field, name)
    kind = _choice(item.get("kind", ""), KINDS, f"{field}.kind") if registry_entry else ""
    gender = _choice(item.get("gender", ""), GENDERS, f"{field}.gender") if registry_entry else ""
    titles = _titles(item.get("titles", []), f"{field}.titles") if registry_entry else ()
    roles = _titles(item.get("roles", []), f"{field}.roles") if registry_entry else ()
    known = None if registry_entry else reg.lookup(name)
    kind = kind or (known.kind if known else _kind_of(name))
    if known:
        base_aliases = known.aliases
    elif registry_entry:
        base_aliases = tuple(a for a in _default_aliases(name, kind) if a not in exclude)
    else:
        base_aliases = () if aliases else _default_aliases(name, kind)
    merged = tuple(dict.fromkeys([name, *aliases, *base_aliases, *exact]))
    if len(merged) > MAX_ALIASES:
        raise InvalidInputError(f"{len(merged)} aliases; the limit is {MAX_ALIASES}", field=field)
    return Actor(
        name=known.name if known and not aliases else name,
        aliases=merged,
        exclude=tuple(dict.fromkeys([*exclude, *(known.exclude if known else ())])),
        kind=kind,
        gender=gender or (known.gender if known else _gender_of(name, kind)),
        titles=titles or (known.titles if known else ()),
        roles=roles or (known.roles if known else ()),
        exact=tuple(dict.fromkeys([*exact, *(known.exact if known else ())])),
    )


def _check_keys(item: dict[str, Any], field: str, registry_entry: bool) -> None:
    allowed = {"name", "aliases", "exclude"}
    if registry_entry:
        allowed |= {"kind", "gender", "titles", "roles", "exact"}
    unknown = set(item) - allowed
    if unknown:
        raise InvalidInputError(
            f"unknown actor keys {sorted(unknown)}",
            field=field,
            fix=f'use only {sorted(allowed)}: {{"name": ..., "aliases": [...]}}',
        )


def _object_name(item: dict[str, Any], field: str) -> str:
    raw_name = item.get("name")
    if not isinstance(raw_name, str):
        raise InvalidInputError(
            f"actor needs a string 'name', found {type(raw_name).__name__}",
            field=field,
            fix='write {"name": "DNC", "aliases": ["Democratic National Committee"]}',
        )
    name = raw_name.strip()
    _check_name(name, field)
    return name


def _matchable(aliases: list[str], field: str, name: str) -> list[str]:
    """``aliases`` without those that have no letter or digit (each logged: it can match nothing)."""
    unmatchable = [a for a in aliases if not re.search(r"\w", a)]
    for alias in unmatchable:
        # A warning, not an error: the request is still answered (the other names still match).
        log.warning(
            "%s.aliases: alias %r of %r has no letter or digit, so it can match nothing; it is "
            "ignored (give the words a text uses for the actor, or leave the alias out)",
            field,
            alias,
            name,
        )
    return [a for a in aliases if a not in unmatchable]


def _gender_of(name: str, kind: str) -> str:
    return given_names().get(name.split()[0], "") if kind == "person" else ""


def _check_not_description(name: str, field: str, registry: ActorRegistry) -> None:
    owner = registry.title_owner(name)
    if owner is not None:
        raise InvalidInputError(
            f"{name!r} is a description of {owner.name!r}, not a name",
            field=field,
            fix=f"pass {owner.name!r}: its descriptions are matched with it, and mentions found that way are "
            f"marked via 'title'",
        )
    if _DESCRIPTION.match(name):  # (a lower-case name, "bernie sanders", is still a name)
        raise InvalidInputError(
            f"{name!r} looks like a description, not a name (actors are named people, organisations "
            f"and parties)",
            field=field,
            fix='pass the actor\'s name ("Bernie Sanders"), and the description as one of its aliases if '
            'the text uses it: {"name": "Bernie Sanders", "aliases": ["the senator from Vermont"]}',
        )


def _choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value in ("", None):
        return ""
    if value not in allowed:
        raise InvalidInputError(
            f"expected one of {list(allowed)}, found {value!r}",
            field=field,
            fix=f"write one of {list(allowed)}",
        )
    return str(value)


def _titles(value: Any, field: str) -> tuple[Title, ...]:
    """``["the senator from Vermont", {"text": "the Speaker", "years": [2015, 2018]}]``."""
    if not isinstance(value, list):
        raise InvalidInputError(
            f"expected a list, found {type(value).__name__}",
            field=field,
            fix='e.g. ["the senator from Vermont", {"text": "the Speaker", "years": [2015, 2018]}]',
        )
    out = []
    for i, t in enumerate(value):
        if isinstance(t, str) and t.strip():
            out.append(Title(" ".join(t.split())))
            continue
        years = t.get("years") if isinstance(t, dict) else None
        if (
            not isinstance(t, dict)
            or set(t) - {"text", "years"}
            or not isinstance(t.get("text"), str)
            or not t["text"].strip()
            or not (
                isinstance(years, list)
                and len(years) == 2
                and all(y is None or (isinstance(y, int) and 1000 <= y <= 3000) for y in years)
            )
        ):
            raise InvalidInputError(
                f"malformed entry {t!r}",
                field=f"{field}[{i}]",
                fix='write a string, or {"text": "the Speaker", "years": [2015, 2018]} '
                "(null for an open end)",
            )
        out.append(Title(" ".join(t["text"].split()), years[0], years[1]))
    return tuple(out)


def _check_name(name: str, field: str) -> None:
    if not name:
        raise InvalidInputError("actor name is empty", field=field, fix="give a non-empty name")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInputError(
            f"actor name has {len(name)} characters; the limit is {MAX_NAME_CHARS}", field=field
        )
    if "\x00" in name:
        raise InvalidInputError(
            f"actor name contains a NUL character (at character {name.index(chr(0))})",
            field=field,
            fix="remove it: a name is plain text",
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone UTF-16 surrogate ("\ud800" in JSON): no output could be written with it.
        raise InvalidInputError(
            f"actor name contains an unpaired UTF-16 surrogate (\\u{ord(name[exc.start]):04x}) at character "
            f"{exc.start}, which is not valid Unicode",
            field=field,
            fix="send the character itself, or its surrogate pair",
        ) from None


def _str_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInputError(
            "expected a list of non-empty strings", field=field, fix='e.g. ["Bernie", "Sanders"]'
        )
    for v in value:
        _check_name(v.strip(), field)
    return [v.strip() for v in value]


def parse_actors(items: Any, *, field: str = "actors") -> list[Actor]:
    """Validate a caller's actor list; duplicates (same canonical name) are merged."""
    if not isinstance(items, list | tuple):
        raise InvalidInputError(
            f"expected a list of actors, found {type(items).__name__}",
            field=field,
            fix='e.g. ["DNC", "Bernie Sanders"]',
        )
    if not items:
        raise InvalidInputError(
            "actor list is empty",
            field=field,
            fix="name at least one actor, or leave actors out to discover them",
        )
    if len(items) > MAX_ACTORS:
        raise InvalidInputError(
            f"{len(items)} actors; the limit is {MAX_ACTORS}", field=field, fix="send fewer actors"
        )
    out: dict[str, Actor] = {}
    for i, item in enumerate(items):
        actor = parse_actor(item, field=f"{field}[{i}]")
        if actor.name in out:
            prev = out[actor.name]
            actor = Actor(
                actor.name,
                tuple(dict.fromkeys(prev.aliases + actor.aliases)),
                tuple(dict.fromkeys(prev.exclude + actor.exclude)),
            )
        out[actor.name] = actor
    return list(out.values())


@lru_cache(maxsize=4096)
def _alias_pattern(alias: str, exact: bool = False) -> re.Pattern[str]:
    flags = 0 if (exact or (alias.isupper() and len(alias) <= 5)) else re.I
    body = re.escape(alias).replace(r"\ ", r"\s+")
    if alias.startswith("#"):
        return re.compile(body + r"\b", flags)
    # Also match the hashtag and possessive forms: #Bernie, Sanders's.
    return re.compile(r"(?<![\w@])#?" + body + r"(?!\w)", flags)


def find_mentions(text: str, actor: Actor) -> list[Mention]:
    """Non-overlapping alias matches, longest alias first, minus matches inside an excluded name.

    Each match is checked by bisection, not against every mention taken so far: an article of
    30,000 "Trump"s takes milliseconds, not a minute.
    """
    # A substring test first (C speed) skips the regex of a name the text cannot contain; only on
    # ASCII text, where lower() keeps every character a regex would match under re.I.
    low = text.lower() if text.isascii() else None

    def absent(name: str) -> bool:
        return low is not None and name.split()[0].lstrip("#").lower() not in low

    blocked = _union(
        sorted(m.span() for ex in actor.exclude if not absent(ex) for m in _alias_pattern(ex).finditer(text))
    )
    exact = set(actor.exact)
    taken: list[Mention] = []  # disjoint, sorted by start
    for alias in sorted(actor.aliases, key=len, reverse=True):
        if absent(alias):
            continue
        # The matches of one alias never overlap each other: check them against earlier aliases only.
        earlier = ([t.start for t in taken], [t.end for t in taken])
        new = [
            Mention(s, e, alias)
            for s, e in (m.span() for m in _alias_pattern(alias, alias in exact).finditer(text))
            if not _overlaps(blocked, s, e) and not _overlaps(earlier, s, e)
        ]
        if new:
            taken = sorted(taken + new, key=lambda t: t.start)
    return taken


def _union(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Spans sorted by start, merged into disjoint ones: (starts, ends)."""
    starts: list[int] = []
    ends: list[int] = []
    for s, e in spans:
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


def _overlaps(spans: tuple[list[int], list[int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps one of the disjoint ``spans`` (starts, ends), sorted by start."""
    starts, ends = spans
    i = bisect_left(starts, end) - 1  # of the spans that start before ``end``, this one ends last
    return i >= 0 and ends[i] > start


_DISCOVER_LABELS = {"PERSON", "ORG", "NORP"}
_SKIP_ENTITIES = {
    "AP",
    "Reuters",
    "CNN",
    "Fox News",
    "Getty Images",
    "Twitter",
    "Facebook",
    "Associated Press",
}
_GROUP_NAME = re.compile(rf"(?:^|\s)(?:{GROUP_WORDS}|people|community|members)$", re.I)


def _entities(doc: Any) -> list[tuple[str, str, int]]:
    """(name, label, start) of the people, organisations and groups spaCy finds, names tidied."""
    found: list[tuple[str, str, int]] = []
    for ent in doc.ents:
        if ent.label_ not in _DISCOVER_LABELS:
            continue
        name = (
            re.sub(r"\s+", " ", ent.text.strip().strip("'’\".,:;()[]")).removesuffix("'s").removesuffix("’s")
        )
        name = re.sub(r"^(?:the|The|THE)\s+", "", name).replace("[", "").replace("]", "")
        if len(name) < 2 or name in _SKIP_ENTITIES or not any(c.isupper() for c in name):
            continue
        if "/" in name or "@" in name or (name.isupper() and len(name) > 5):
            continue  # a photo credit ("Leah Millis/Reuters"), a handle, a transcript label ("MARTIN")
        if _GROUP_NAME.search(name):  # "Bernie Supporters", "LGBT people": groups, not actors
            continue
        found.append((name, ent.label_, ent.start_char))
    return found


def discover_candidates(doc: Any, *, registry: ActorRegistry | None = None) -> list[Actor]:
    """One Actor per entity an article names, in order of first appearance.

    Surnames fold into the full name seen in the text ("Sanders" -> "Bernie Sanders"); names in
    the registry take their canonical form ("GOP", "Republicans" -> "Republican Party";
    "Democratic", "Democrats" -> "Democratic Party"); other nationalities and groups ("LGBT",
    "Americans") are not actors. Two people who share a surname stay two actors; which one a bare
    surname means is decided per mention (:func:`model.linking.link`).
    """
    registry = registry or default_registry()
    found = _entities(doc)
    seen = Counter(n for n, _, _ in found)
    full_names = {n for n, label, _ in found if label == "PERSON" and len(n.split()) >= 2}
    by_surname: dict[str, str] = {}
    for full in sorted(full_names, key=lambda n: -seen[n]):
        words = [w for w in full.split() if w not in NAME_SUFFIXES]
        if len(words) >= 2:
            by_surname.setdefault(words[-1], full)
    by_first: dict[str, set[str]] = {}
    for full in full_names:
        by_first.setdefault(full.split()[0], set()).add(full)
    org_heads: dict[str, set[str]] = {}
    for n, label, _ in found:
        if label == "ORG" and len(n.split()) >= 2:
            org_heads.setdefault(n.split()[0], set()).add(n)
    lower_words = set(re.findall(r"\b[a-z]+\b", getattr(doc, "text", "")))
    actors: dict[str, Actor] = {}
    for name, label, _pos in found:
        canonical = name
        if len(name.split()) == 1:
            # "Sanders" -> "Bernie Sanders", "Chelsea" -> "Chelsea Clinton" (whatever spaCy labelled it).
            firsts = by_first.get(name, set())
            canonical = by_surname.get(name) or (next(iter(firsts)) if len(firsts) == 1 else name)
            if canonical == name and label != "PERSON":
                # "State" (of "State's") -> "State Department", when the article names that too.
                longer = org_heads.get(name, set())
                canonical = next(iter(longer)) if len(longer) == 1 else name
            if canonical == name and label == "PERSON":
                canonical = _full_name(getattr(doc, "text", ""), name) or name
        known = registry.lookup(canonical) or registry.lookup(name)
        if known is None:
            if label == "NORP":
                continue
            if (
                canonical == name
                and len(name.split()) == 1
                and (name.lower() in lower_words or name in given_names())
            ):
                continue  # a common word spaCy capitalised ("Guilty", "Need"), a lone first name
        actor = known or _entity_actor(canonical, label)
        actors.setdefault(actor.name, actor)
    # Headline fragments and phrases built around another actor's name ("Cruz Shouted Down",
    # "Endorse Trump", "Democratic Debate") are not actors; "Clinton Foundation" is.
    owners: dict[str, set[str]] = {}
    for a in actors.values():
        for alias in a.aliases:
            if len(alias.split()) == 1:
                owners.setdefault(alias, set()).add(a.name)
    keep = []
    for a in actors.values():
        parts = a.name.split()
        if (
            len(parts) >= 2
            and registry.lookup(a.name) is None
            and not is_person_name(a.name)
            and parts[-1].lower() not in _ORG_TAIL
            and any(owners.get(w, set()) - {a.name} for w in parts)
        ):
            continue
        keep.append(a)
    return keep


def _full_name(text: str, single: str) -> str | None:
    """The full name a text gives a person it mostly calls by surname ("Judge Brett Kavanaugh")."""
    found = Counter(
        m.group(1)
        for m in re.finditer(rf"(?<![\w.])([A-Z][a-z]+)\s+(?:[A-Z]\.\s+)?{re.escape(single)}(?!\w)", text)
        if m.group(1) in given_names()
    )
    return f"{found.most_common(1)[0][0]} {single}" if found else None


def _entity_actor(name: str, label: str) -> Actor:
    kind = "person" if label == "PERSON" else "organisation"
    if kind == "person" and len(name.split()) >= 2:
        words = [w for w in name.split() if w not in NAME_SUFFIXES]
        aliases: tuple[str, ...] = (name,)
        if len(words) == len(name.split()) and (last := surname(name)):
            aliases = (name, last)
        return Actor(name, aliases, kind=kind, gender=given_names().get(name.split()[0], ""), exact=aliases)
    # What spaCy found is matched with its case: "Need" the entity is not "need" the word.
    if kind == "person":
        return Actor(name, (name,), kind=kind, exact=(name,))
    aliases = _default_aliases(name, kind)
    return Actor(name, aliases, kind=kind, exact=aliases)


def discover(doc: Any, *, limit: int = 5, registry: ActorRegistry | None = None) -> list[tuple[Actor, int]]:
    """The entities an article names, by how often spaCy finds them: (actor, count), most first.

    The predictor ranks by salience instead (:func:`model.linking.rank`); this count is what
    ``training/labelled/news_windows/make_windows.py`` filters on.
    """
    registry = registry or default_registry()
    actors = discover_candidates(doc, registry=registry)
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    index = ActorRegistry(actors)
    for name, _label, pos in _entities(doc):
        actor = index.lookup(name)
        if actor is None:
            continue
        counts[actor.name] += 1
        first.setdefault(actor.name, pos)
    by_name = {a.name: a for a in actors}
    ranked = sorted(counts, key=lambda n: (-counts[n], first[n]))[:limit]
    return [(by_name[n], counts[n]) for n in ranked]
