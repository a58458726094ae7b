"""The contrast batches' merge script: agreed items only, multi-actor texts whole, no near-dev copies."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = (
    Path(__file__).resolve().parents[2] / "training" / "labelled" / "contrast_train" / "agree_contrast.py"
)


@pytest.fixture(scope="module")
def agree():
    spec = importlib.util.spec_from_file_location("agree_contrast", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _item(i: str, label: str, text: str, group: str | None = None) -> dict:
    return {"id": i, "kind": "multi_actor" if group else "control", "target": "A", "label": label,
            "group": group, "text": text}  # fmt: skip


def test_merge_keeps_agreed_items_drops_split_texts_and_near_dev_copies(agree, tmp_path, monkeypatch):
    dev = _write(tmp_path / "dev.jsonl", [{"text": "The senator spoke at the rally in Ohio on Tuesday."}])
    monkeypatch.setattr(agree, "DEV", Path(dev))
    items = [
        _item("x-1", "favor", "Smith fixed the roads and his critics hate it."),
        _item("x-2", "against", "Jones broke the budget again, bravo.", group="g1"),
        _item("x-3", "favor", "Jones broke the budget again, bravo.", group="g1"),
        _item("x-4", "neutral", "The senator spoke at the rally in Ohio on Tuesday."),  # a dev copy
        _item("x-5", "neutral", "Lee met the mayor."),
    ]
    second = {"x-1": "favor", "x-2": "against", "x-3": "neutral", "x-4": "neutral", "x-5": "against"}
    written = _write(tmp_path / "items.jsonl", items)
    labels = _write(tmp_path / "labels.jsonl", [{"id": k, "label": v} for k, v in second.items()])
    out = tmp_path / "out.jsonl"
    agree.merge([f"{written},{labels}"], str(out), 0.5)
    kept = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    # x-2 agreed, but its text lost x-3 to a disagreement: the whole text goes; x-5 disagreed.
    assert kept == ["x-1"]


def test_blind_packet_holds_only_id_actor_and_text(agree, tmp_path):
    # (not the label or the kind; the writer's ids stay, so ids in blocks by kind still show it)
    items = [_item(f"x-{i}", "favor", f"Text {i}.") for i in range(5)]
    out = tmp_path / "blind.jsonl"
    agree.blind(_write(tmp_path / "items.jsonl", items), 1, str(out))
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [f"x-{i}" for i in range(5)]
    assert all(set(r) == {"id", "target", "text"} for r in rows)


def test_merge_drops_a_group_with_a_near_dev_row_and_reads_labels_alike(agree, tmp_path, monkeypatch):
    dev = _write(
        tmp_path / "dev.jsonl", [{"text": "Brown won the vote in the city council on Monday night."}]
    )
    monkeypatch.setattr(agree, "DEV", Path(dev))
    items = [
        _item("y-1", "Favor", "Brown won the vote in the city council on Monday night.", group="g1"),
        _item("y-2", "against", "Brown won the vote in the city council on Monday night.", group="g1"),
        _item("y-3", "favour ", "Kim kept every promise and the critics can seethe."),
    ]
    second = {"y-1": "favor", "y-2": "against", "y-3": "FAVOR"}
    written = _write(tmp_path / "items.jsonl", items)
    labels = _write(tmp_path / "labels.jsonl", [{"id": k, "label": v} for k, v in second.items()])
    out = tmp_path / "out.jsonl"
    agree.merge([f"{written},{labels}"], str(out), 0.5)
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["y-3"]
