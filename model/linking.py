"""Linking and coreference: every mention of each actor in one article, by name, title or pronoun.

Rule-based and linear in the text's length (one left-to-right sweep):

1. **Names**: the actor's aliases (:func:`model.actors.find_mentions`). A bare surname is resolved
   per article to the nearest full mention of someone with that surname ("Clinton" is Hillary in
   a story about her, Bill where "Bill Clinton" was named just before).
2. **Titles**: the registry's descriptions ("the senator from Vermont"), where the article's year
   falls inside the years they hold; and role nouns ("the senator", "the committee") that go to
   the last actor of that role named in the paragraph ("Sen. Bernie Sanders ... the senator").
   An organisation's role nouns come from its last word ("... Administration": "the agency"), a
   US state's is "the state"; a bare role noun with no such actor in its paragraph (or the one
   before) reaches back over the whole text, one with a capitalised modifier ("the Florida
   governor") does not.
3. **Pronouns**: he/him/his and she/her/hers go to the last person of that gender named in the
   paragraph (or, at a paragraph's start, in the paragraph before); "its", and "it" before a
   reporting or acting verb ("it said"), to the last organisation or party; "they"/"their" to
   an organisation or party named in the plural ("Democrats") in the same paragraph. Someone else
   named in between (a full name with a known given name, "Mr. Smith", "Sen. Warren") blocks it;
   pronouns inside quotation marks are left alone.

``benchmarks/bench_discovery.py`` measures how many annotated mentions each kind finds.
"""

from __future__ import annotations

import datetime
import math
import numbers
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .actors import (
    Actor,
    ActorRegistry,
    Mention,
    default_registry,
    find_mentions,
    given_names,
    surname,
)
from .errors import InvalidInputError

#: Role words written before a name ("Sen. Bernie Sanders", "House Speaker Paul Ryan") -> role noun.
_CUE_ROLES = {
    "sen.": "senator",
    "senator": "senator",
    "rep.": "congressman",
    "representative": "congressman",
    "congressman": "congressman",
    "congresswoman": "congressman",
    "gov.": "governor",
    "governor": "governor",
    "president": "president",
    "speaker": "speaker",
    "secretary": "secretary",
    "director": "director",
    "leader": "leader",
    "chairman": "chairman",
    "chairwoman": "chairman",
    "chair": "chairman",
    "judge": "judge",
    "justice": "judge",
    "mayor": "mayor",
    "candidate": "candidate",
    "nominee": "nominee",
    "hopeful": "candidate",
    "billionaire": "billionaire",
}
#: An organisation's (or place's) last word -> the role nouns a text calls it by ("Federal Aviation
#: Administration": "the agency"; "Trump campaign": "the campaign"; "Acme Inc.": "the company").
_HEAD_ROLES = {
    "committee": ("committee",),
    "bureau": ("bureau", "agency"),
    "agency": ("agency",),
    "administration": ("administration", "agency"),
    "commission": ("commission", "agency"),
    "service": ("service", "agency"),
    "department": ("department",),
    "ministry": ("ministry",),
    "union": ("union",),
    "party": ("party",),
    "campaign": ("campaign",),
    "company": ("company",),
    "corporation": ("company",),
    "corp": ("company",),
    "inc": ("company",),
    "university": ("university", "school"),
    "college": ("college", "school"),
    "court": ("court",),
    "council": ("council",),
    "board": ("board",),
    "foundation": ("foundation", "group"),
    "institute": ("institute", "group"),
    "association": ("association", "group"),
    "coalition": ("coalition", "group"),
    "group": ("group",),
    "network": ("network",),
    "government": ("government",),
}
_ROLE_NOUNS = sorted({*_CUE_ROLES.values(), *(r for rs in _HEAD_ROLES.values() for r in rs), "state"})
#: "the senator", "the Vermont senator", "the former president" (not "the senators", "the senator Bernie
#: Sanders" or "the president of the company"); up to two modifiers.
_ROLE_MENTION = re.compile(
    r"(?<!\w)[Tt]he\s+(?:(?:former|then|outgoing|incoming|current|embattled|veteran|new|longtime|presumptive"
    r"|likely|eventual|top|federal|majority|minority|ranking|[A-Z][a-z]+|[A-Z]\.[A-Z]\.)(?:\s+|-))?"
    r"(?:(?:[A-Z][a-z]+|majority|minority|state)\s+)?"
    rf"({'|'.join(_ROLE_NOUNS)})(?![\w-])(?!\s+of\b)(?!\s+[A-Z][a-z])"
)
#: An organisation or party named in the plural: "Democrats", "Republicans", "Teamsters" (not "GOP",
#: "Congress", "Democratic Party").
_PLURAL = re.compile(r"[a-rt-z]s$")
#: A capitalised modifier of a role noun ("the Florida governor", "the Libertarian nominee") says
#: who is meant in a way slant cannot check: such a title resolves only nearby, not text-wide.
_NAMED_MODIFIER = re.compile(r"\s[A-Z]")
_CUE = re.compile(
    r"(?<!\w)(Sen\.|Senator|Rep\.|Representative|Congress(?:wo)?man|Gov\.|Governor|President|Speaker"
    r"|Secretary|Director|Leader|Chair(?:wo)?man|Chair|Judge|Justice|Mayor|candidate|nominee|hopeful"
    r"|billionaire)\s+(?:of\s+State\s+)?(?=[A-Z])"
)
#: A person named in full by a common given name ("Elizabeth Warren", "Bill Clinton"), or "Mr. Smith".
#: A lookahead, so that matches may overlap: "Reporter Mary Smith" tries "Reporter Mary", then "Mary Smith".
_PERSON = re.compile(
    r"(?<![\w.])(?=(([A-Z][a-z]+)(?:\s+[A-Z]\.)?\s+([A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)(?!\w)))"
)
_HONORIFIC = re.compile(r"(?<!\w)(Mr|Mrs|Ms|Miss)\.?\s+([A-Z][a-z]+)")
_PRONOUN = re.compile(
    r"(?<!\w)(he|him|his|himself|she|her|hers|herself|its|itself|they|them|their|theirs|themselves"
    r"|it(?=\s+(?:said|says|added|argued|announced|claimed|denied|noted|stated|wrote|told|wants"
    r"|wanted|plans|planned|intends|intended|filed|sued|agreed|declined|refused|launched|released|hired"
    r"|fired|spent|raised|received|accused|urged|asked|expects|expected|believes|believed|insisted"
    r"|promised|pledged|vowed|warned|reported|disclosed|confirmed|acknowledged|admitted|apologized"
    r"|apologised|blamed|criticized|criticised|endorsed|opposed|supported|backed)\b))(?!\w)",
    re.I,
)
_PRONOUN_GENDER = {
    "he": "m",
    "him": "m",
    "his": "m",
    "himself": "m",
    "she": "f",
    "her": "f",
    "hers": "f",
    "herself": "f",
    "its": "org",
    "itself": "org",
    "it": "org",  # only before a reporting or acting verb ("it said"): "it is" is mostly not a referent
    # A party named in the plural ("Democrats", "Republicans"): "they", "their".
    "they": "plural",
    "them": "plural",
    "their": "plural",
    "theirs": "plural",
    "themselves": "plural",
}
_QUOTE = re.compile(r"“[^”\n]*+”|\"[^\"\n]*+\"")
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")


def infer_year(text: str) -> int | None:
    """The year a text names most often (ties: the latest), or None: fixes time-bound titles."""
    years = Counter(int(y) for y in _YEAR.findall(text))
    if not years:
        return None
    return max(years, key=lambda y: (years[y], y))


#: The years a date may give: a bare number outside them is a typo, not a year.
FIRST_YEAR, LAST_YEAR = 1900, 2100
DATE_FORMS = "an ISO date (2016-07-25), an ISO date and time (2016-07-25T14:30:00), or a year (2016)"
_MONTH_DAY = r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = (
    r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?"
)
_DATE_SHAPE = re.compile(rf"([0-9]{{4}})(?:{_MONTH_DAY}(?:{_TIME})?)?")
#: The date strings :func:`parse_year` accepts, as one regular expression (the HTTP schema's pattern):
#: a year in FIRST_YEAR..LAST_YEAR, optionally with month and day in range, optionally with a time.
#: Only the year is used, so the day is not checked against the month's length.
DATE_PATTERN = rf"^(?:19[0-9]{{2}}|20[0-9]{{2}}|2100)(?:{_MONTH_DAY}(?:{_TIME})?)?$"


def parse_year(value: str | int | float | datetime.date | None, *, field: str = "date") -> int | None:
    """The year of an article's date, or None (no date: the year is inferred from the text).

    Accepts a string that matches :data:`DATE_PATTERN` (an ISO date, or date and time, or a year:
    ``"2016-07-25"``, ``"2016-07-25T14:30:00Z"``, ``"2016"``), an integer year (a float with no
    fraction too, ``2016.0``: what an integer column with empty cells becomes in Parquet or pandas)
    or a :class:`datetime.date`; anything else is an :class:`~model.errors.InvalidInputError`.

    >>> parse_year("2016-07-25"), parse_year("2016-07-25T14:30:00Z"), parse_year(2016), parse_year(None)
    (2016, 2016, 2016, None)
    """
    if value is None:
        return None
    year: int | None = None
    if isinstance(value, datetime.date):  # datetime.datetime is a date too
        year = value.year
    elif isinstance(value, bool):
        pass  # True is an int to Python, not a year
    elif isinstance(value, numbers.Integral):
        year = int(value)  # a Python or NumPy integer
    elif isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        year = int(value)  # 2016.0: an integer column with empty cells, as Parquet and pandas give it
    elif isinstance(value, str) and (shape := _DATE_SHAPE.fullmatch(value)):
        year = int(shape.group(1))
    if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        found = f"is outside the years {FIRST_YEAR}..{LAST_YEAR}" if year is not None else "is not a date"
        raise InvalidInputError(
            f"{shown} {found}",
            field=field,
            fix=f"give {DATE_FORMS}, or leave it out to infer the year from the text",
        )
    return year


def roles_of(actor: Actor, year: int | None) -> set[str]:
    """The role nouns that can refer to ``actor`` in ``year``: the registry's, and an organisation's
    head noun ("Democratic National Committee" -> "committee", "Federal Aviation Administration" ->
    "administration" and "agency", a party -> "party"), a US state's "state"."""
    out = {r.text.lower() for r in actor.roles if r.holds(year)}
    if actor.kind in ("organisation", "party"):
        out.update(_HEAD_ROLES.get(actor.name.split()[-1].lower().rstrip("."), ()))
        if actor.kind == "party":
            out.add("party")
    elif actor.kind == "place":
        out.add("state")  # a US state: "the state", "the state's"
    return out


@dataclass
class _Event:
    pos: int
    actor: int  # index into actors; -1: someone else (a blocker)
    gender: str  # "m", "f", "" (a person of unknown gender: counts for both), "org"
    roles: frozenset[str]
    plural: bool = False  # named in the plural ("Democrats", "Republicans"): "they" may refer to it


def link(
    text: str,
    actors: Sequence[Actor],
    *,
    year: int | None = None,
    coreference: bool = True,
) -> list[list[Mention]]:
    """Mentions of each actor in ``text`` (cleaned), sorted and disjoint per actor, each with ``via``.

    ``year`` fixes time-bound titles (default: the year the text names most). Without
    ``coreference`` only names are found (as slant did before titles and pronouns).

    >>> from model.actors import parse_actor
    >>> found = link("Sen. Bernie Sanders spoke. He won.", [parse_actor("Bernie Sanders")])[0]
    >>> [(m.alias, m.via) for m in found]
    [('Bernie Sanders', 'name'), ('he', 'pronoun')]
    """
    names = [find_mentions(text, a) for a in actors]
    names = _resolve_surnames(text, actors, names)
    if not coreference or not actors:
        return names
    year = year if year is not None else infer_year(text)
    titles = _title_mentions(text, actors, names, year)
    events, queries = _events(text, actors, names, titles, year)
    found = _sweep(text, events, queries, len(actors))
    out = []
    for ai in range(len(actors)):
        out.append(_disjoint(names[ai], titles[ai], found[ai]))
    return out


def _disjoint(*groups: list[Mention]) -> list[Mention]:
    """The mentions of the groups in order of preference (names, titles, pronouns), none overlapping."""
    taken: list[Mention] = []
    for group in groups:
        if not taken:
            taken = list(group)
            continue
        starts = [m.start for m in taken]
        keep = []
        for m in group:
            i = bisect_right(starts, m.start)
            if (i > 0 and taken[i - 1].end > m.start) or (i < len(taken) and taken[i].start < m.end):
                continue
            keep.append(m)
        taken = sorted(taken + keep, key=lambda m: m.start)
    return taken


def _resolve_surnames(text: str, actors: Sequence[Actor], names: list[list[Mention]]) -> list[list[Mention]]:
    """Drop a bare-surname mention whose nearest full mention (before it, else after it) is of
    someone else with that surname: another actor, or a person the text names in full."""
    out = []
    for ai, actor in enumerate(actors):
        last = surname(actor.name) if actor.kind == "person" and len(actor.name.split()) >= 2 else None
        if not last or not any(m.alias.lower() == last.lower() for m in names[ai]):
            out.append(names[ai])
            continue
        own_words = set(actor.name.split()) | {w for a in actor.aliases for w in a.split()}
        anchors: list[tuple[int, bool]] = [
            (m.start, True) for m in names[ai] if m.alias.lower() != last.lower()
        ]
        for full in re.finditer(rf"(?<![\w.])([A-Z][a-z]+)\s+(?:[A-Z]\.\s+)?{re.escape(last)}(?!\w)", text):
            if full.group(1) in given_names() and full.group(1) not in own_words:
                anchors.append((full.start(), False))
        for aj in range(len(actors)):
            if aj != ai:
                anchors += [(m.start, False) for m in names[aj] if last in m.alias and m.alias != last]
        if not any(not own for _, own in anchors):
            out.append(names[ai])
            continue
        anchors.sort()
        starts = [p for p, _ in anchors]
        keep = []
        for m in names[ai]:
            if m.alias.lower() != last.lower():
                keep.append(m)
                continue
            i = bisect_right(starts, m.start) - 1
            owner = anchors[i] if i >= 0 else anchors[0]
            if owner[1]:
                keep.append(m)
        out.append(keep)
    return out


@lru_cache(maxsize=1024)
def _title_pattern(title: str) -> re.Pattern[str]:
    words = title.split()
    head = words[0]
    body = r"\s+".join(re.escape(w) for w in words[1:])
    first = f"[{head[0].upper()}{head[0].lower()}]{re.escape(head[1:])}"
    return re.compile(
        rf"(?<![\w-]){first}\s+{body}(?![\w-])" if body else rf"(?<![\w-]){first}(?![\w-])", re.I
    )


def _title_mentions(
    text: str, actors: Sequence[Actor], names: list[list[Mention]], year: int | None
) -> list[list[Mention]]:
    """Registry titles that hold in ``year``; a span two actors claim goes to the one named last before it."""
    claims: dict[tuple[int, int], list[tuple[int, str]]] = {}
    for ai, actor in enumerate(actors):
        for title in actor.titles:
            if title.holds(year):
                for hit in _title_pattern(title.text).finditer(text):
                    claims.setdefault(hit.span(), []).append((ai, title.text))
    out: list[list[Mention]] = [[] for _ in actors]
    for (s, e), who in sorted(claims.items()):
        if len({ai for ai, _ in who}) > 1:
            before = [(max((m.start for m in names[ai] if m.start < s), default=-1), ai, t) for ai, t in who]
            pos, ai, t = max(before)
            if pos < 0:
                continue
        else:
            ai, t = who[0]
        out[ai].append(Mention(s, e, t, "title"))
    # Longer titles first: "the former secretary of state" beats "the secretary of state" inside it.
    return [_disjoint(sorted(ms, key=lambda m: m.start - m.end)) for ms in out]


def _events(
    text: str,
    actors: Sequence[Actor],
    names: list[list[Mention]],
    titles: list[list[Mention]],
    year: int | None,
) -> tuple[list[_Event], list[tuple[int, int, str, str]]]:
    """What the sweep reads: who is named where (actors and others), and what asks for an antecedent."""
    events: list[_Event] = []
    roles = [frozenset(roles_of(a, year)) for a in actors]
    taken = sorted((m.start, m.end) for ms in (*names, *titles) for m in ms)
    starts = [s for s, _ in taken]

    def inside_actor(s: int, e: int) -> bool:
        i = bisect_right(starts, e - 1) - 1
        return i >= 0 and taken[i][1] > s

    cue_roles: dict[int, set[str]] = {}
    for cue in _CUE.finditer(text):
        cue_roles.setdefault(cue.end(), set()).add(_CUE_ROLES[cue.group(1).lower()])
    for ai, actor in enumerate(actors):
        gender = actor.gender if actor.kind == "person" else ("org" if actor.kind else "")
        for mention in names[ai]:
            extra = cue_roles.get(mention.start, set())
            plural = actor.kind in ("organisation", "party") and bool(
                _PLURAL.search(text, mention.start, mention.end)
            )
            events.append(_Event(mention.start, ai, gender, roles[ai] | extra, plural))
        for mention in titles[ai]:
            events.append(_Event(mention.start, ai, gender, roles[ai]))
    # Other people: a full name with a known given name, an honorific and a surname, a cue and a name.
    for m in _PERSON.finditer(text):
        g = given_names().get(m.group(2))
        if g and not inside_actor(*m.span(1)):
            events.append(_Event(m.start(), -1, g, frozenset(cue_roles.get(m.start(), ()))))
    for m in _HONORIFIC.finditer(text):
        if not inside_actor(*m.span()):
            g = "m" if m.group(1) == "Mr" else "f"
            events.append(_Event(m.start(), -1, g, frozenset()))
    for pos, rs in cue_roles.items():
        end = pos + 30
        if not inside_actor(pos, min(end, len(text))):
            events.append(_Event(pos, -1, "", frozenset(rs)))
    quotes = [m.span() for m in _QUOTE.finditer(text)]
    q_starts = [s for s, _ in quotes]

    def quoted(p: int) -> bool:
        i = bisect_right(q_starts, p) - 1
        return i >= 0 and quotes[i][1] > p

    queries: list[tuple[int, int, str, str]] = []  # (start, end, "pronoun" | "title", key)
    for m in _PRONOUN.finditer(text):
        if not quoted(m.start()) and not inside_actor(*m.span()):
            queries.append((m.start(), m.end(), "pronoun", _PRONOUN_GENDER[m.group(1).lower()]))
    for m in _ROLE_MENTION.finditer(text):
        if not inside_actor(*m.span()):
            queries.append((m.start(), m.end(), "title", m.group(1).lower()))
    return events, queries


def _sweep(
    text: str, events: list[_Event], queries: list[tuple[int, int, str, str]], n: int
) -> list[list[Mention]]:
    """One pass in reading order: each query takes the last compatible event of its paragraph (or,
    when its paragraph has none before it, of the paragraph before); a role noun ("the party",
    "the agency"), more specific than a pronoun, then takes the last compatible event before it
    anywhere in the text."""
    lines = [m.start() for m in re.finditer(r"\n", text)]
    items: list[tuple[int, int, Any]] = [(e.pos, 0, e) for e in events] + [(q[0], 1, q) for q in queries]
    items.sort(key=lambda t: (t[0], t[1]))
    out: list[list[Mention]] = [[] for _ in range(n)]
    cur: dict[str, _Event] = {}
    prev: dict[str, _Event] = {}
    seen: dict[str, _Event] = {}  # the last event of each role anywhere before
    para = -1
    for pos, is_query, item in items:
        p = bisect_right(lines, pos)
        if p != para:
            if cur:
                prev, cur = cur, {}
            para = p
        if not is_query:
            e: _Event = item
            if e.gender == "":
                cur["m"] = cur["f"] = e
            elif e.gender in ("m", "f", "org"):
                cur[e.gender] = e
            if e.plural:
                cur["plural"] = e
            for r in e.roles:
                cur["role:" + r] = seen["role:" + r] = e
            continue
        start, end, via, key = item
        slot = key if via == "pronoun" else "role:" + key
        found = cur.get(slot) or (prev.get(slot) if not cur and key != "plural" else None)
        if found is None and via == "title" and not _NAMED_MODIFIER.search(text, start, end):
            found = seen.get(slot)  # "the party", "the agency"; not "the Florida governor"
        if found is not None and found.actor >= 0:
            out[found.actor].append(Mention(start, end, text[start:end], via))
            if via == "title":  # "the senator" is itself a mention: later pronouns may point at it
                cur[slot] = seen[slot] = _Event(start, found.actor, found.gender, found.roles)
    return out


# -- discovery ------------------------------------------------------------------------------------


@dataclass
class Discovered:
    """An actor an article is about, its salience score (share of the article's weighted
    mentions, 0 to 1) and its mentions (by name, title and pronoun)."""

    actor: Actor
    score: float
    mentions: list[Mention]


#: News outlets and platforms: cited as sources, not what an article is about.
OUTLETS = {
    "AP",
    "Associated Press",
    "Reuters",
    "AFP",
    "CNN",
    "Fox News",
    "Fox",
    "MSNBC",
    "NBC",
    "NBC News",
    "ABC",
    "ABC News",
    "CBS",
    "CBS News",
    "NPR",
    "PBS",
    "BBC",
    "Politico",
    "POLITICO",
    "The Hill",
    "Hill",
    "Axios",
    "New York Times",
    "The New York Times",
    "Times",
    "Washington Post",
    "The Washington Post",
    "Post",
    "Wall Street Journal",
    "The Wall Street Journal",
    "Journal",
    "USA Today",
    "USA TODAY",
    "Bloomberg",
    "BuzzFeed",
    "Buzzfeed",
    "BuzzFeed News",
    "Breitbart",
    "Breitbart News",
    "Vox",
    "Slate",
    "Daily Beast",
    "The Daily Beast",
    "Newsweek",
    "Time",
    "Guardian",
    "The Guardian",
    "Huffington Post",
    "HuffPost",
    "Washington Times",
    "The Washington Times",
    "National Review",
    "Vanity Fair",
    "The Atlantic",
    "Atlantic",
    "New Yorker",
    "The New Yorker",
    "Mother Jones",
    "Salon",
    "Daily Caller",
    "Daily Wire",
    "Newsmax",
    "CNBC",
    "MarketWatch",
    "Business Insider",
    "Los Angeles Times",
    "Chicago Tribune",
    "Twitter",
    "Facebook",
    "YouTube",
    "Instagram",
    "Getty Images",
    "Getty",
    "Flickr",
    "Gallup",
    "C-SPAN",
    "CBN",
    "AL.com",
    "Lifehacker",
    "Yahoo",
    "Yahoo News",
    "Google",
    "Quinnipiac",
    "NBC/Wall Street Journal",
}
_SOURCE_BEFORE = re.compile(
    r"(?:according\s+to|told|reported\s+by|in\s+an\s+interview\s+with|interview\s+with|said\s+on|"
    r"appeared\s+on|writing\s+in|wrote\s+in|via|by|in|on|to|with)\s+(?:the\s+)?$",
    re.I,
)
_SOURCE_AFTER = re.compile(
    r"^(?:['’]s)?\s+(?:reported|reports|first\s+reported|said\s+in\s+a\s+report|poll)", re.I
)
_SUBJECT_AFTER = re.compile(
    r"^(?:['’]s)?\s*(?:,[^,]{1,60},\s*)?(?:said|says|told|has|had|is|was|will|would|wants|wanted|announced|"
    r"argued|called|claimed|insisted|won|lost|led|leads|took|made|did|does|could|can|should|must|may|"
    r"might|plans|planned|signed|urged|warned|added|noted|wrote|tweeted|accused|attacked|defended|"
    r"criticized|criticised|praised|rejected|denied|supports|supported|opposes|opposed|\w+ed\b|\w+s\b)",
)
#: Salience weights: a mention in the headline or lead counts more, one by pronoun or title less.
HEADLINE_WEIGHT, LEAD_WEIGHT, SUBJECT_BONUS = 3.0, 1.5, 0.5
VIA_WEIGHT = {"name": 1.0, "title": 0.7, "pronoun": 0.5}
LEAD_SENTENCES = 3
#: Texts of at least this many sentences are articles: actors named once there are dropped.
ARTICLE_SENTENCES = 5
#: A party named by its adjective ("Democratic senators") counts for less than by its name.
ADJECTIVE_WEIGHT = 0.3


def rank(
    doc: Any,
    text: str,
    *,
    limit: int = 5,
    registry: ActorRegistry | None = None,
    year: int | None = None,
    headline: str | None = None,
) -> list[Discovered]:
    """The people, organisations and parties ``text`` (cleaned; ``doc`` its spaCy analysis with
    entities) is about, most salient first, at most ``limit``.

    Candidates are the named entities (surnames folded into full names, registry names in their
    canonical form, "Democratic" and "Democrats" one party) and registry actors named twice or
    more; each is scored by its mentions (by name, title and pronoun), weighted for the headline
    and lead and for subject position. Dropped: outlets cited as sources, groups of people
    ("Bernie supporters", "LGBT"), and, in an article, candidates named once or only in the headline.
    """
    from .actors import discover_candidates

    registry = registry or default_registry()
    candidates = discover_candidates(doc, registry=registry)
    names_seen = {a.name for a in candidates}
    for actor in registry.actors:
        if actor.name not in names_seen and actor.kind and len(find_mentions(text, actor)) >= 2:
            candidates.append(actor)
    if not candidates:
        return []
    mentions = link(text, candidates, year=year)
    sents = [(s.start_char, s.end_char) for s in doc.sents if text[s.start_char : s.end_char].strip()]
    head_end = _headline_end(text, sents, headline)
    lead_end = sents[min(len(sents), LEAD_SENTENCES + (1 if head_end else 0)) - 1][1] if sents else 0
    sent_starts = [s for s, _ in sents]
    weights: list[float] = []
    for actor, ms in zip(candidates, mentions, strict=True):
        by_name = [m for m in ms if m.via == "name"]
        if not by_name or _cited_only(text, actor, by_name):
            weights.append(0.0)
            continue
        w = 0.0
        for m in ms:
            x = VIA_WEIGHT[m.via]
            if m.via == "name" and actor.kind == "party" and m.alias in actor.exact:
                x *= ADJECTIVE_WEIGHT  # "Democratic primary": the party, but in passing
            if m.start < head_end:
                x *= HEADLINE_WEIGHT
            elif m.start < lead_end:
                x *= LEAD_WEIGHT
            i = bisect_right(sent_starts, m.start) - 1
            if m.via != "pronoun" and i >= 0 and _subject(text, sents[i][0], m):
                x += SUBJECT_BONUS
            w += x
        # In an article, an actor named once, or only in the headline (title-case headlines fool the
        # NER), is not what it is about; a tweet or a sentence names each of its actors once.
        if len(sents) >= ARTICLE_SENTENCES and (len(ms) < 2 or all(m.start < head_end for m in by_name)):
            w = 0.0
        weights.append(w)
    total = sum(weights) or 1.0
    found = [
        Discovered(a, round(w / total, 4), ms)
        for a, w, ms in zip(candidates, weights, mentions, strict=True)
        if w > 0
    ]
    found.sort(key=lambda d: (-d.score, d.mentions[0].start if d.mentions else 0))
    return found[:limit]


def _headline_end(text: str, sents: list[tuple[int, int]], headline: str | None) -> int:
    """Where the headline ends: the first line when it is short and has no full stop (scraped pages
    start with it), else 0."""
    first = text.lstrip()
    start = len(text) - len(first)
    line = first.split("\n", 1)[0]
    if headline and line.strip() and line.strip().lower() == headline.strip().lower():
        return start + len(line)
    if 0 < len(line.split()) <= 20 and not re.search(r"[.!?][\"”’]?\s*$", line) and "\n" in first:
        return start + len(line)
    return 0


def _subject(text: str, sent_start: int, m: Mention) -> bool:
    """Whether a mention is its sentence's subject: among its first words, followed by a verb."""
    before = text[sent_start : m.start].split()
    return len(before) <= 2 and _SUBJECT_AFTER.match(text, m.end, min(len(text), m.end + 80)) is not None


def _cited_only(text: str, actor: Actor, ms: list[Mention]) -> bool:
    """An outlet, or an organisation every one of whose mentions cites it as a source."""
    if actor.name in OUTLETS or any(m.alias in OUTLETS for m in ms):
        return True
    if actor.kind == "person":
        return False
    return all(
        _SOURCE_BEFORE.search(text, max(0, m.start - 40), m.start)
        or _SOURCE_AFTER.match(text[m.end : m.end + 40])
        for m in ms
    )
