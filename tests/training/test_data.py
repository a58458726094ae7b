import json
import re

import pytest

from model.errors import InvalidInputError
from model.labels import normalize_label
from training.config import DatasetSpec
from training.data import load_rows


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("FAVOR", "favor"),
        ("none", "neutral"),
        ("Positive", "favor"),
        ("negative", "against"),
        ("against", "against"),
    ],
)
def test_label_synonyms(raw, label):
    assert normalize_label(raw) == label


def test_rows_are_filtered_normalised_and_stripped(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"text": "Go Bernie #SemST", "target": "Bernie Sanders", "label": "FAVOR", "split": "train"},
            {"text": "No", "target": "Bernie Sanders", "label": "none", "split": "test"},
            {
                "text": "Meh #SemST",
                "target_canonical": "X",
                "target": "Bernie Sanders",
                "label": "positive",
                "split": "train",
            },
        ],
    )
    spec = DatasetSpec(name="d", path=str(path), where={"split": "train"}, strip=[r"\s*#SemST"])
    rows = load_rows(spec, "/")
    assert rows == [
        {"text": "Go Bernie", "target": "Bernie Sanders", "label": "favor", "dataset": "d"},
        {"text": "Meh", "target": "Bernie Sanders", "label": "favor", "dataset": "d"},
    ]


def test_bad_label_names_the_line(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"text": "a", "target": "b", "label": "favor"}, {"text": "a", "target": "b", "label": "maybe"}],
    )
    with pytest.raises(InvalidInputError) as info:
        load_rows(DatasetSpec(name="d", path=str(path)), "/")
    assert "d row 2 label: unknown stance label 'maybe'" in str(info.value)


def test_bad_json_and_missing_file(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "target": "b", "label": "favor"}\n{oops\n')
    with pytest.raises(InvalidInputError, match=r"d.jsonl:2 is not valid JSON"):
        load_rows(DatasetSpec(name="d", path=str(path)), "/")
    with pytest.raises(InvalidInputError, match="SLANT_DATA_ROOT"):
        load_rows(DatasetSpec(name="d", path="missing.jsonl"), str(tmp_path))


def test_group_holdout_is_disjoint_and_complete(tmp_path):
    rows = [{"text": f"t{i}", "target": f"topic {i % 40}", "label": "favor"} for i in range(400)]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    train = load_rows(DatasetSpec(name="d", path=str(path), holdout={"by": "target", "fraction": 0.2}), "/")
    held = load_rows(
        DatasetSpec(name="d", path=str(path), holdout={"by": "target", "fraction": 0.2, "part": "holdout"}),
        "/",
    )
    assert len(train) + len(held) == 400 and held
    assert not {r["target"] for r in train} & {r["target"] for r in held}


def test_csv_and_max_rows(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,target,label\n" + "".join(f"t{i},DNC,against\n" for i in range(50)))
    rows = load_rows(DatasetSpec(name="d", path=str(path), max_rows=10), "/")
    assert len(rows) == 10 and rows == load_rows(DatasetSpec(name="d", path=str(path), max_rows=10), "/")


def test_hugging_face_dataset_directory(tmp_path):
    import datasets

    ds = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(
                [
                    {"tweet": "Go Bernie", "topic": "Bernie Sanders", "stance": "FAVOR"},
                    {"tweet": "Bernie lies", "topic": "Bernie Sanders", "stance": "AGAINST"},
                ]
            ),
        }
    )
    ds.save_to_disk(tmp_path / "hfds")
    spec = DatasetSpec(
        name="hf", hf=str(tmp_path / "hfds"), text_field="tweet", target_field="topic", label_field="stance"
    )
    assert [r["label"] for r in load_rows(spec, "/")] == ["favor", "against"]


def test_project_sets_load_with_aliases_and_kinds():
    """slant's own labelled sets live in the project (root: project), not under the data root."""
    spec = DatasetSpec(
        name="contrast-dev",
        path="training/labelled/contrast_dev/contrast_dev.jsonl",
        root="project",
        where={"unit": "short"},
    )
    rows = load_rows(spec, root="/nonexistent")
    assert len(rows) >= 300
    assert {r["kind"] for r in rows} == {
        "angry_defence",
        "upbeat_opposition",
        "neutral_report",
        "multi_actor",
        "control",
    }
    assert any(r.get("aliases") for r in rows)


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9']+", text.lower()))


def test_own_training_and_dev_sets_share_no_text():
    from training.config import PROJECT_DIR

    root = PROJECT_DIR / "training" / "labelled"

    def texts(path, **where):
        rows = [json.loads(x) for x in (root / path).read_text().splitlines()]
        return {r["text"] for r in rows if all(r.get(k) == v for k, v in where.items())}

    dev = texts("contrast_dev/contrast_dev.jsonl") | texts("news_windows/news_windows.jsonl", split="dev")
    batches = sorted((root / "contrast_train").glob("contrast_train*.jsonl"))
    later = texts("news_windows/news_windows_4.jsonl") | texts("news_windows/news_windows_5.jsonl")
    train = (
        set().union(*(texts(p.relative_to(root)) for p in batches))
        | texts("news_windows/news_windows.jsonl", split="train")
        | later
    )
    later_train = texts("news_windows/news_windows_4.jsonl", split="train") | texts(
        "news_windows/news_windows_5.jsonl", split="train"
    )
    assert later and later_train == later  # the fourth and fifth batches are training only
    assert len(batches) >= 3 and dev and train and not dev & train
    # No near-copies either: word-set Jaccard under 0.6 between every hand-written training item
    # and every contrast-dev item (the closest pair, 0.59, is two one-line controls about when the
    # Senate returns from recess, with different senators and dates).
    dev_words = [_words(t) for t in texts("contrast_dev/contrast_dev.jsonl")]
    for p in batches:
        for t in texts(p.relative_to(root)):
            w = _words(t)
            assert max(len(w & d) / len(w | d) for d in dev_words) < 0.6, (p.name, t)
    # The composed two-actor texts are made of training parts only: no dev text is inside one.
    composed = texts("composites/composites.jsonl")
    assert composed and not any(d in c for c in composed for d in dev)


def test_alias_field_adds_the_mention_but_never_a_pronoun(tmp_path):
    write_jsonl(
        tmp_path / "m.jsonl",
        [
            {
                "text": "President Obama spoke.",
                "target": "Obama",
                "canon": "Barack Obama",
                "label": "neutral",
            },
            {"text": "He spoke.", "target": "he", "canon": "Barack Obama", "label": "neutral"},
        ],
    )
    spec = DatasetSpec(name="m", path="m.jsonl", target_field="canon", alias_field="target")
    rows = load_rows(spec, str(tmp_path))
    assert rows[0]["aliases"] == ["Obama"] and "aliases" not in rows[1]


def test_exclude_text_leaves_out_matching_rows(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"text": "Union leaders praised Starmer's plan.", "target": "Keir Starmer", "label": "positive"},
            {"text": "Starmer's plan is a serious start.", "target": "Keir Starmer", "label": "positive"},
        ],
    )
    rows = load_rows(DatasetSpec(name="d", path=str(path), exclude_text=[r"\bpraised\b"]), "/")
    assert [r["text"] for r in rows] == ["Starmer's plan is a serious start."]


def test_a_bad_regex_in_a_spec_is_named():
    with pytest.raises(ValueError, match=r"'\(unclosed' is not a valid regular expression"):
        DatasetSpec(name="d", path="d.jsonl", exclude_text=["(unclosed"])


def test_text_from_joins_each_row_to_its_article_by_id(tmp_path):
    import lzma

    from training.data import spec_hash

    def corpus(*records):
        with lzma.open(tmp_path / "articles.jsonl.xz", "wt") as fh:
            for rid, body in records:
                fh.write(json.dumps({"ID": rid, "content_original": body}) + "\n")

    corpus(("a1", "Sanders spoke in Iowa."), ("a2", "Clinton won Nevada."), ("a3", "Other."))
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"article": "a2", "target": "Hillary Clinton", "label": "neutral", "fold": "a"},
            {"article": "a1", "target": "Bernie Sanders", "label": "favor", "fold": "a"},
            {"article": "gone", "target": "Bernie Sanders", "label": "favor", "fold": "b"},
        ],
    )
    spec = DatasetSpec(
        name="arts", path=str(labels), where={"fold": "a"}, text_from={"path": "articles.jsonl.xz"}
    )
    rows = load_rows(spec, str(tmp_path))  # fold b's unknown id is filtered out before the join
    assert [(r["text"], r["target"], r["label"]) for r in rows] == [
        ("Clinton won Nevada.", "Hillary Clinton", "neutral"),
        ("Sanders spoke in Iowa.", "Bernie Sanders", "favor"),
    ]
    body = spec.model_copy(update={"text_field": "body"})  # the joined text goes to the spec's text_field
    assert [r["text"] for r in load_rows(body, str(tmp_path))] == [r["text"] for r in rows]
    before = spec_hash(spec, str(tmp_path))
    corpus(("a1", "Sanders spoke in Ohio."), ("a2", "Clinton won Nevada."))
    assert spec_hash(spec, str(tmp_path)) != before  # the text file is part of the source's hash
    everything = spec.model_copy(update={"where": {}})
    with pytest.raises(InvalidInputError, match="1 ids have no 'content_original'.*first: 'gone'") as err:
        load_rows(everything, str(tmp_path))
    assert "text_from.path" in err.value.fix
    write_jsonl(labels, [{"target": "Bernie Sanders", "label": "favor"}])
    with pytest.raises(InvalidInputError, match="row 1: no 'article' field to find its text by"):
        load_rows(everything, str(tmp_path))


def test_the_primaries_dev_set_is_apart_from_every_training_window_and_reads_its_articles():
    """Article-level dev labels (ids only) join the corpus text; no news-window batch used them."""
    from tests.conftest import needs_data
    from training.config import PROJECT_DIR, load_config

    root = PROJECT_DIR / "training" / "labelled"
    dev = [json.loads(x) for x in (root / "primaries_dev" / "primaries_dev.jsonl").read_text().splitlines()]
    assert len(dev) >= 150 and all("text" not in r for r in dev)
    folds = {r["fold"]: {x["article"] for x in dev if x["fold"] == r["fold"]} for r in dev}
    assert set(folds) == {"a", "b"} and not folds["a"] & folds["b"]
    windows = set()
    for path in sorted((root / "news_windows").glob("news_windows*.jsonl")):
        windows |= {json.loads(x)["article"] for x in path.read_text().splitlines()}
    assert windows and not windows & {r["article"] for r in dev}
    needs_data("article_bias_prediction", "articles.jsonl.xz")
    config = load_config(PROJECT_DIR / "training" / "configs" / "default-stage3.yaml")
    (spec,) = [s for s in config.eval if s.name == "primaries-dev"]
    rows = load_rows(spec, config.data_root)
    assert len(rows) == len(dev) and all(len(r["text"]) >= 1500 for r in rows)
    assert [(r["target"], r["label"]) for r in rows] == [(r["target"], r["label"]) for r in dev]
