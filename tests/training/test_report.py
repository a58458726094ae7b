"""`slant report` / `training.report.build`: aggregates, files, and clear errors for bad input.

The aggregates are checked twice: against a table computed by hand, and against a pandas
computation written here independently of the report's chunked counters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from model.errors import InvalidInputError
from service.cli import app
from training.report import build
from training.report.synthetic import write_synthetic

pd = pytest.importorskip("pandas", reason="slant report needs pandas: pip install -e '.[report]'")
pytest.importorskip("matplotlib", reason="slant report needs matplotlib: pip install -e '.[report]'")


def result(label: str | None, favor: float = 0.0, against: float = 0.0, evidence: list | None = None) -> dict:
    if label is None:
        return {
            "actor": "DNC",
            "status": "not_mentioned",
            "label": None,
            "probabilities": None,
            "evidence": [],
        }
    probs = {"against": against, "neutral": round(1 - favor - against, 6), "favor": favor}
    return {
        "actor": "DNC",
        "status": "scored",
        "label": label,
        "probabilities": probs,
        "evidence": evidence or [],
    }


def ev(text: str, p: float, label: str = "favor") -> dict:
    rest = (1 - p) / 2
    probs = {"against": rest, "neutral": rest, "favor": rest, label: p}
    return {"text": text, "start": 0, "end": len(text), "label": label, "probabilities": probs}


# Two outlets, one actor. Outlet A: favor, favor, against, not mentioned; outlet B: neutral, favor.
HAND = [
    ("a1", "A", "2016-01-04", result("favor", favor=0.8, against=0.1, evidence=[ev("A likes it.", 0.9)])),
    ("a2", "A", "2016-01-05", result("favor", favor=0.5, against=0.4, evidence=[ev("Mild praise.", 0.6)])),
    (
        "a3",
        "A",
        "2016-01-12",
        result("against", favor=0.2, against=0.7, evidence=[ev("Bad.", 0.8, "against")]),
    ),
    ("a4", "A", "2016-01-13", result(None)),
    ("b1", "B", "2016-01-06", result("neutral", favor=0.3, against=0.2)),
    (
        "b2",
        "B",
        "2016-02-01",
        result("favor", favor=0.6, against=0.1, evidence=[ev("B too.", 0.7), ev("x", 0.95)]),
    ),
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def hand_rows() -> list[dict[str, Any]]:
    return [
        {"id": i, "row": k, "source": s, "date": d, "actors": [r], "model": "m", "version": "1"}
        for k, (i, s, d, r) in enumerate(HAND)
    ]


def read_table(out: Path, name: str) -> Any:
    return pd.read_csv(out / "aggregates" / f"{name}.csv")


def test_aggregates_match_the_hand_computed_table(tmp_path):
    src = write_jsonl(tmp_path / "labelled.jsonl", hand_rows())
    out = tmp_path / "report"
    summary = build(src, out=out, by="source", time_column="date", freq="W", min_articles=2, progress=False)
    assert summary.rows == 6 and summary.scored == 5 and summary.actors == ["DNC"]
    table = read_table(out, "stance_by_group").set_index("group")
    a, b = table.loc["A"], table.loc["B"]
    assert (a["n"], a["n_against"], a["n_neutral"], a["n_favor"], a["not_mentioned"]) == (3, 1, 0, 2, 1)
    assert (b["n"], b["n_against"], b["n_neutral"], b["n_favor"], b["not_mentioned"]) == (2, 0, 1, 1, 0)
    assert a["favor"] == pytest.approx(2 / 3) and a["against"] == pytest.approx(1 / 3) and a["neutral"] == 0
    # mean of P(favor) - P(against): A (0.7 + 0.1 - 0.5) / 3, B (0.1 + 0.5) / 2
    assert a["mean_score"] == pytest.approx(0.1) and b["mean_score"] == pytest.approx(0.3)
    # low margin (< 0.2 between the top two): a2 (0.5 vs 0.4), b1 (0.5 vs 0.3 is 0.2: not low)
    assert a["low_margin_share"] == pytest.approx(1 / 3) and b["low_margin_share"] == 0
    assert a["neutral_low"] == a["neutral_high"] == 0  # no neutral article: no resample has one
    assert 0 <= a["favor_low"] <= 2 / 3 <= a["favor_high"] <= 1

    # Weeks (Monday starts): (all) has 3 articles in the week of 4 January, 1 in the next (a3; a4 is not
    # mentioned), none in the two after, 1 in the week of 1 February: empty weeks are rows with n 0.
    over = read_table(out, "stance_over_time")
    total = over[over["group"] == "(all)"].set_index("period")
    assert list(total.index) == ["2016-01-04", "2016-01-11", "2016-01-18", "2016-01-25", "2016-02-01"]
    assert list(total["n"]) == [3, 1, 0, 0, 1]
    assert list(total["enough"]) == [True, False, False, False, False]
    assert total.loc["2016-01-04", "mean_score"] == pytest.approx((0.7 + 0.1 + 0.1) / 3)
    assert set(over["group"]) == {"(all)", "A", "B"}

    evidence = read_table(out, "evidence")
    top_b = evidence[evidence["group"] == "B"].sort_values("rank")
    assert list(top_b["text"]) == ["x", "B too."] and list(top_b["id"]) == ["b2", "b2"]
    assert list(evidence[evidence["group"] == "A"].sort_values("rank")["id"]) == ["a1", "a3", "a2"]

    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('class="actor-figure"') == 1 and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from the network
    assert "b2" in page and "B too." in page
    for f in ("figures/dnc-by-group.png", "figures/dnc-by-group.svg", "figures/dnc-over-time.svg"):
        assert (out / f).stat().st_size > 1000
    parquet = pd.read_parquet(out / "aggregates" / "stance_by_group.parquet")
    assert list(parquet["n"]) == list(read_table(out, "stance_by_group")["n"])


def independent(path: Path, freq: str) -> tuple[Any, Any]:
    """Shares and mean scores per (actor, source) and per (actor, period) straight from the JSONL."""
    rows = pd.read_json(path, lines=True)
    flat = rows[["id", "source", "date", "actors"]].explode("actors").dropna(subset=["actors"])
    res = pd.json_normalize(flat["actors"].tolist())
    res.index = flat.index
    flat = pd.concat([flat.drop(columns="actors"), res], axis=1)
    scored = flat[flat["status"] == "scored"].copy()
    scored["score"] = scored["probabilities.favor"] - scored["probabilities.against"]
    by = scored.groupby(["actor", "source"])
    groups = pd.DataFrame(
        {
            "n": by.size(),
            "favor": by["label"].apply(lambda s: (s == "favor").mean()),
            "against": by["label"].apply(lambda s: (s == "against").mean()),
            "mean_score": by["score"].mean(),
        }
    )
    scored["period"] = pd.to_datetime(scored["date"]).dt.to_period(freq).dt.start_time.dt.strftime("%Y-%m-%d")
    times = scored.groupby(["actor", "period"]).agg(n=("score", "size"), mean_score=("score", "mean"))
    return groups, times


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_aggregates_match_an_independent_pandas_computation(tmp_path, suffix):
    jsonl = write_synthetic(tmp_path / "labelled.jsonl", 600, seed=3)
    src = jsonl if suffix == ".jsonl" else write_synthetic(tmp_path / "labelled.parquet", 600, seed=3)
    out = tmp_path / "report"
    build(src, out=out, by="source", time_column="date", freq="M", progress=False, chunk_rows=97)
    expected, expected_time = independent(jsonl, "M")
    got = read_table(out, "stance_by_group").set_index(["actor", "group"])
    got.index.names = ["actor", "source"]
    got = got.loc[expected.index]
    for col in ("n", "favor", "against", "mean_score"):
        np.testing.assert_allclose(
            got[col].to_numpy(float), expected[col].to_numpy(float), rtol=1e-9, err_msg=col
        )
    over = read_table(out, "stance_over_time")
    total = over[over["group"] == "(all)"].set_index(["actor", "period"]).loc[expected_time.index]
    np.testing.assert_allclose(total["n"].to_numpy(float), expected_time["n"].to_numpy(float))
    np.testing.assert_allclose(total["mean_score"], expected_time["mean_score"], rtol=1e-9)

    # The intervals agree with a plain bootstrap over articles (resampling rows), to bootstrap noise.
    rows = pd.read_json(jsonl, lines=True)
    rng = np.random.default_rng(1)
    actor, source = expected.index[0]
    cell = [
        (r["label"], r["probabilities"]["favor"] - r["probabilities"]["against"])
        for _, row in rows[rows["source"] == source].iterrows()
        for r in row["actors"]
        if r["actor"] == actor and r["status"] == "scored"
    ]
    labels = np.array([c[0] for c in cell])
    scores = np.array([c[1] for c in cell])
    draws = rng.integers(len(cell), size=(2000, len(cell)))
    favor = np.percentile((labels[draws] == "favor").mean(axis=1), [2.5, 97.5])
    mean = np.percentile(scores[draws].mean(axis=1), [2.5, 97.5])
    mine = got.loc[(actor, source)]
    assert mine["favor_low"] == pytest.approx(favor[0], abs=0.02)
    assert mine["favor_high"] == pytest.approx(favor[1], abs=0.02)
    assert mine["mean_score_low"] == pytest.approx(mean[0], abs=0.03)
    assert mine["mean_score_high"] == pytest.approx(mean[1], abs=0.03)


def test_group_by_the_model_leaning_and_bias_distributions(tmp_path):
    src = write_synthetic(tmp_path / "labelled.jsonl", 300, seed=1, bias=True)
    out = tmp_path / "report"
    build(src, out=out, by="leaning", actors=["Donald Trump"], progress=False)
    table = read_table(out, "stance_by_group")
    assert set(table["group"]) <= {"left", "center", "right"} and set(table["actor"]) == {"Donald Trump"}
    bias = read_table(out, "bias_by_group").set_index("group")
    rows = pd.read_json(src, lines=True)
    leaning = rows["bias"].map(lambda b: b["leaning"]["label"])
    assert bias["n_leaning"].to_dict() == leaning.value_counts().to_dict()
    assert bias.loc["left", "left"] == 1.0  # grouped by leaning: each group is all of its own label
    hp = rows["bias"].map(lambda b: b["hyperpartisan"]).groupby(leaning).mean()
    np.testing.assert_allclose(bias.loc[hp.index, "hyperpartisan_mean"], hp, rtol=1e-9)
    assert (out / "figures" / "leaning-hyperpartisan.png").is_file()
    assert 'id="bias"' in (out / "index.html").read_text(encoding="utf-8")


def test_the_calibration_caveat_reads_the_model_dev_ece(tmp_path, tiny_model_dir):
    from model.loading import read_meta, write_meta

    model = tmp_path / "model"
    model.mkdir()
    meta = read_meta(tiny_model_dir)
    meta.metrics = {"dev": {"set-a": {"n": 100, "ece": 0.1}, "set-b": {"n": 300, "ece": 0.02}}}
    write_meta(model, meta)
    src = write_jsonl(tmp_path / "labelled.jsonl", hand_rows())
    build(src, out=tmp_path / "r1", model=model, progress=False)
    summary = json.loads((tmp_path / "r1" / "aggregates" / "summary.json").read_text())
    assert summary["calibration"]["ece"] == pytest.approx((0.1 * 100 + 0.02 * 300) / 400)
    assert summary["calibration"]["low_margin_share"] == pytest.approx(1 / 5)
    page = (tmp_path / "r1" / "index.html").read_text(encoding="utf-8")
    assert '<strong id="ece">0.040</strong>' in page and '<strong id="low-margin">20%</strong>' in page
    build(src, out=tmp_path / "r2", progress=False)  # labels of another model than the default one
    page = (tmp_path / "r2" / "index.html").read_text(encoding="utf-8")
    assert "Dev calibration error unknown" in page and "pass --model" in page


def test_an_existing_report_is_replaced_only_with_force(tmp_path):
    src = write_jsonl(tmp_path / "labelled.jsonl", hand_rows())
    out = tmp_path / "report"
    build(src, out=out, progress=False)
    with pytest.raises(InvalidInputError, match="already exists") as err:
        build(src, out=out, progress=False)
    assert "--force" in str(err.value)
    build(src, out=out, by="source", force=True, progress=False)
    assert set(read_table(out, "stance_by_group")["group"]) == {"A", "B"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failure_while_writing_leaves_no_report_folder(tmp_path, monkeypatch):
    from training.report import page

    def broken(*args: Any, **kw: Any) -> None:
        (args[0] / "figures").mkdir(parents=True)
        (args[0] / "index.html").write_text("half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(page, "write_report", broken)
    src = write_jsonl(tmp_path / "labelled.jsonl", hand_rows())
    with pytest.raises(OSError):
        build(src, out=tmp_path / "report", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labelled.jsonl"]


BAD = {
    "missing file": (None, [], "does not exist", "slant label"),
    "empty file": ("", [], "is empty", "label some articles"),
    "not labelled output": ('{"text": "hello"}\n', [], "no 'actors' column", "slant label"),
    "no date column": (
        None,
        ["--time", "published"],
        "no date column 'published'",
        "--keep-fields published",
    ),
    "no group column": (None, ["--by", "outlet"], "no column 'outlet' to group by", "--keep-fields outlet"),
    "unparsable dates": ("baddate", ["--time", "date"], "dates that cannot be read", "ISO 8601"),
    "actor never labelled": (None, ["-a", "Bernie Sanders"], "'Bernie Sanders' never labelled", "DNC (5)"),
    "bad frequency": (None, ["--time", "date", "--freq", "D"], "--freq is 'D'", "W (weeks) or M (months)"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_what_is_wrong_and_the_fix(tmp_path, case):
    content, options, problem, fix = BAD[case]
    src = tmp_path / "labelled.jsonl"
    if content == "baddate":
        rows = hand_rows()
        rows[4]["date"] = "last Tuesday"
        write_jsonl(src, rows)
    elif content is not None:
        src.write_text(content, encoding="utf-8")
    elif case != "missing file":
        write_jsonl(src, hand_rows())
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(src), "-o", str(out), "--no-progress", *options])
    assert result.exit_code == 2, result.output
    assert problem in result.output and fix in result.output and "Fix:" in result.output, result.output
    assert "Traceback" not in result.output
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unparsable_dates_can_be_skipped_and_are_counted(tmp_path):
    rows = hand_rows()
    rows[4]["date"] = "last Tuesday"
    rows[5]["date"] = None
    src = write_jsonl(tmp_path / "labelled.jsonl", rows)
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["report", str(src), "-o", str(out), "--time", "date", "--skip-bad-dates", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 6
    summary = json.loads((out / "aggregates" / "summary.json").read_text())
    assert (summary["bad_dates"], summary["undated_rows"]) == (1, 1)
    over = read_table(out, "stance_over_time")
    assert over["n"].sum() == 3  # a1, a2, a3: b1's date is unreadable, b2 has none, a4 is not mentioned
