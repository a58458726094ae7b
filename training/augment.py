"""Counterfactual name swaps: the same labelled item about a made-up person.

A stance model reads a name as well as the text: tweets about Donald Trump are mostly against
him, so "Trump was right to pull the convention" can come out ``against``. Training on a copy of
each hand-written item in which the target person has a made-up name (from Faker's en_US names,
the given name of the same gender) teaches it to read what the author says about the marked span,
not whom the span names. The label does not change: the author's attitude is in the words.

Only the target is renamed, everywhere the text names it: the full name, the surname and the
given name alone, and a title before the surname ("President Trump" -> "President Kowalski").
Descriptions ("the Vermont senator") stay. A row is left as it is when its target is not a person,
or when the text names it in a form that cannot be mapped (a nickname such as "HRC").
"""

from __future__ import annotations

from typing import Any

from faker import Faker

from model.actors import NAME_SUFFIXES, default_registry, find_mentions, given_names
from model.windows import row_actor


class NameSwapper:
    """Renames the target person of labelled rows; deterministic per ``seed`` string."""

    def __init__(self) -> None:
        self.fake = Faker("en_US")
        self.registry = default_registry()

    def _new_name(self, gender: str, text: str, seed: str) -> tuple[str, str]:
        self.fake.seed_instance(seed)
        pick = {"f": self.fake.first_name_female, "m": self.fake.first_name_male}.get(
            gender, self.fake.first_name
        )
        low = text.lower()
        for _ in range(50):
            first, last = pick(), self.fake.last_name()
            clash = first.lower() in low or last.lower() in low
            if not clash and not self.registry.lookup(last) and not self.registry.lookup(f"{first} {last}"):
                return first, last
        raise RuntimeError(f"no free made-up name for seed {seed!r}")  # pragma: no cover

    def swap(self, row: dict[str, Any], seed: str) -> dict[str, Any] | None:
        """A copy of ``row`` with its target person renamed, or None when it cannot be renamed."""
        actor = row_actor(row)
        words = [w for w in actor.name.split() if w not in NAME_SUFFIXES]
        if actor.kind != "person" or len(words) < 2:
            return None
        text = row["text"]
        gender = actor.gender or given_names().get(words[0], "")
        first, last = self._new_name(gender, text, seed)
        new_full = f"{first} {last}"
        mapping: dict[str, str | None] = {}
        for alias in actor.aliases:
            mapping[alias] = _map_alias(alias, words, first, last, new_full)
        mentions = find_mentions(text, actor)
        if not mentions or any(mapping.get(m.alias) is None for m in mentions):
            return None
        out, end = [], len(text)
        for m in sorted(mentions, key=lambda m: m.start, reverse=True):
            new = mapping[m.alias]
            assert new is not None
            found = text[m.start : m.end]
            if new == m.alias:
                new = found  # a description stays as the text writes it
            elif found.startswith("#"):
                new = "#" + new.replace(" ", "")
            elif found.isupper() and len(found) > 1:
                new = new.upper()
            out.append(text[m.end : end])
            out.append(new)
            end = m.start
        out.append(text[:end])
        kept = {v for a, v in mapping.items() if v and a != actor.name and v != new_full}
        swapped = {**row, "text": "".join(reversed(out)), "target": new_full}
        swapped.pop("aliases", None)
        if kept:
            swapped["aliases"] = sorted(kept)
        return swapped


def _map_alias(alias: str, words: list[str], first: str, last: str, full: str) -> str | None:
    """The made-up counterpart of one alias; None for a name form that cannot be mapped."""
    a, low = alias.strip(), alias.strip().lower()
    if a[:1].islower():
        return a  # a description ("the Vermont senator", "the guy"): it stays
    parts = a.split()
    if low in (" ".join(words).lower(), " ".join([words[0], words[-1]]).lower()) or (
        len(parts) >= 3 and parts[0].lower() == words[0].lower() and parts[-1].lower() == words[-1].lower()
    ):
        return full  # "Hillary Clinton", "Hillary Rodham Clinton"
    if low == words[-1].lower():
        return last
    if low == words[0].lower():
        return first
    if len(parts) >= 2 and parts[-1].lower() == words[-1].lower() and parts[0].lower() != words[0].lower():
        return " ".join([*parts[:-1], last])  # a title before the surname: "President Trump"
    return None
