"""Actors: the alias registry, caller-given actor specs, mention finding and actor discovery."""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .errors import InvalidInputError

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
}


@dataclass(frozen=True)
class Actor:
    """A named actor and the surface forms that count as mentioning it."""

    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    alias: str


@dataclass
class ActorRegistry:
    """Canonical actors with aliases; looked up by name or alias, case-insensitively."""

    actors: list[Actor] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index: dict[str, Actor] = {}
        for actor in self.actors:
            for key in (actor.name, *actor.aliases):
                self._index.setdefault(key.lower(), actor)

    def lookup(self, name: str) -> Actor | None:
        return self._index.get(name.strip().lower())

    @classmethod
    def from_file(cls, path: str | Path) -> ActorRegistry:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInputError(
                f"cannot read actor registry {path}: {exc}", fix="fix the YAML file"
            ) from None
        empty = cls([])
        actors = [
            parse_actor(item, field=f"{path} actors[{i}]", registry=empty)
            for i, item in enumerate(raw.get("actors", []))
        ]
        return cls(actors)


@lru_cache(maxsize=4)
def default_registry(path: str | None = None) -> ActorRegistry:
    """The shipped registry (``model/actors.yaml``) or the file named by ``$SLANT_ACTORS``."""
    path = path or os.environ.get("SLANT_ACTORS") or str(Path(__file__).with_name("actors.yaml"))
    return ActorRegistry.from_file(path)


def _default_aliases(name: str) -> tuple[str, ...]:
    """A person's full name also matches their surname ("Benjamin Koellmann" -> "Koellmann")."""
    words = name.split()
    if 2 <= len(words) <= 4 and all(
        w[:1].isupper() and w.replace(".", "").replace("-", "").isalpha() for w in words
    ):
        last = words[-1]
        if last.lower() not in _ORG_TAIL and len(last) > 2 and not last.isupper():
            return (name, last)
    return (name,)


def parse_actor(item: Any, *, field: str = "actors", registry: ActorRegistry | None = None) -> Actor:
    """Turn ``"DNC"`` or ``{"name": ..., "aliases": [...]}`` into an Actor, with clear errors.

    A bare name found in the registry takes the registry's canonical name and aliases.

    >>> parse_actor("Bernie").name
    'Bernie Sanders'
    """
    if isinstance(item, str):
        name = item.strip()
        _check_name(name, field)
        known = (registry if registry is not None else default_registry()).lookup(name)
        return known or Actor(name=name, aliases=_default_aliases(name))
    if isinstance(item, dict):
        unknown = set(item) - {"name", "aliases", "exclude"}
        if unknown:
            raise InvalidInputError(
                f"unknown actor keys {sorted(unknown)}",
                field=field,
                fix='use {"name": ..., "aliases": [...]}',
            )
        raw_name = item.get("name")
        if not isinstance(raw_name, str):
            raise InvalidInputError(
                f"actor needs a string 'name', found {type(raw_name).__name__}",
                field=field,
                fix='write {"name": "DNC", "aliases": ["Democratic National Committee"]}',
            )
        name = raw_name.strip()
        _check_name(name, field)
        aliases = _str_list(item.get("aliases", []), f"{field}.aliases")
        exclude = _str_list(item.get("exclude", []), f"{field}.exclude")
        known = (registry if registry is not None else default_registry()).lookup(name)
        base_aliases = known.aliases if known else (() if aliases else _default_aliases(name))
        merged = tuple(dict.fromkeys([name, *aliases, *base_aliases]))
        if len(merged) > MAX_ALIASES:
            raise InvalidInputError(f"{len(merged)} aliases; the limit is {MAX_ALIASES}", field=field)
        return Actor(
            name=known.name if known and not aliases else name,
            aliases=merged,
            exclude=tuple(dict.fromkeys([*exclude, *(known.exclude if known else ())])),
        )
    raise InvalidInputError(
        f"expected an actor name or an object, found {type(item).__name__}",
        field=field,
        fix='pass "DNC" or {"name": "DNC", "aliases": ["Democratic National Committee"]}',
    )


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
def _alias_pattern(alias: str) -> re.Pattern[str]:
    flags = 0 if (alias.isupper() and len(alias) <= 5) else re.I
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
    blocked = _union(sorted(m.span() for ex in actor.exclude for m in _alias_pattern(ex).finditer(text)))
    taken: list[Mention] = []  # disjoint, sorted by start
    for alias in sorted(actor.aliases, key=len, reverse=True):
        # The matches of one alias never overlap each other: check them against earlier aliases only.
        earlier = ([t.start for t in taken], [t.end for t in taken])
        new = [
            Mention(s, e, alias)
            for s, e in (m.span() for m in _alias_pattern(alias).finditer(text))
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


def discover(doc: Any, *, limit: int = 5, registry: ActorRegistry | None = None) -> list[tuple[Actor, int]]:
    """Rank the people, organisations and parties an article is about, by how often they appear.

    Surnames are folded into the full name seen elsewhere in the text ("Sanders" -> "Bernie
    Sanders"); names in the registry take their canonical form ("GOP" -> "Republican Party").
    Returns (actor, mention count) pairs, most mentioned first, ties broken by first position.
    """
    registry = registry or default_registry()
    found: list[tuple[str, str, int]] = []
    for ent in doc.ents:
        if ent.label_ not in _DISCOVER_LABELS:
            continue
        name = re.sub(r"\s+", " ", ent.text.strip().strip("'’\".,")).removesuffix("'s").removesuffix("’s")
        name = re.sub(r"^(?:the|The|THE)\s+", "", name)
        if len(name) < 2 or name in _SKIP_ENTITIES or not any(c.isupper() for c in name):
            continue
        found.append((name, ent.label_, ent.start_char))
    full_names = {n for n, label, _ in found if label == "PERSON" and len(n.split()) >= 2}
    by_surname: dict[str, str] = {}
    seen = Counter(n for n, _, _ in found)
    for full in sorted(full_names, key=lambda n: -seen[n]):
        by_surname.setdefault(full.split()[-1], full)
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    actors: dict[str, Actor] = {}
    for name, _label, pos in found:
        canonical = by_surname.get(name, name) if len(name.split()) == 1 else name
        known = registry.lookup(canonical)
        actor = known or Actor(canonical, _default_aliases(canonical))
        actors.setdefault(actor.name, actor)
        counts[actor.name] += 1
        first.setdefault(actor.name, pos)
    ranked = sorted(counts, key=lambda n: (-counts[n], first[n]))[:limit]
    return [(actors[n], counts[n]) for n in ranked]
