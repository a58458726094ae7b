"""The notebooks in notebooks/ run top to bottom and are committed without outputs.

Each notebook is executed by a Jupyter kernel of this Python (a kernel spec written to a temporary
folder, so nothing depends on what is installed in ~/.local/share/jupyter), on the tiny random
model with random bias heads and small samples, via the notebooks' own SLANT_NB_* parameters. A
check cell appended to the copy that runs asserts on the notebook's variables; figures are looked for
in the tagged cells.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _bias_fixtures import write_bias_data
from conftest import DATA, REPO, needs_data

nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient: pip install -e '.[dev]'")
pytest.importorskip("ipykernel", reason="notebook tests need ipykernel: pip install -e '.[dev]'")

NOTEBOOKS = REPO / "notebooks"
NAMES = ["01_training_data.ipynb", "02_error_analysis.ipynb", "03_label_and_retrain.ipynb", "04_report.ipynb"]
KERNEL = "slant-notebook-tests"
CELL_TIMEOUT = 300  # seconds per cell; each takes a few seconds on the tiny model


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A kernel spec for this interpreter, and Jupyter/IPython state kept out of the home folder."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "data" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "slant (tests)", "language": "python"}), encoding="utf-8"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root / "data"))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(root / "runtime"))
        mp.setenv("IPYTHONDIR", str(root / "ipython"))
        yield root


def run_notebook(name: str, env: dict[str, str], check: str = "") -> Any:
    """Execute a copy of the notebook (with ``check`` appended as a last cell); return it with outputs."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    if check:
        nb.cells.append(nbformat.v4.new_code_cell(check))
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("SLANT_NB_")]:
            mp.delenv(key)  # a developer's own settings must not change the test
        for key, value in env.items():
            mp.setenv(key, value)
        client.execute()
    return nb


def tagged(nb: Any, tag: str) -> list[Any]:
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert cells, f"no cell tagged {tag!r}"
    return cells


def has_figure(nb: Any, tag: str) -> bool:
    return any(
        "image/png" in out.get("data", {}) for cell in tagged(nb, tag) for out in cell.get("outputs", [])
    )


def stdout_of(nb: Any, tag: str) -> str:
    return "".join(
        out.get("text", "")
        for cell in tagged(nb, tag)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )


# -- the committed files ------------------------------------------------------------------------------


def test_notebooks_are_committed_without_outputs_and_listed_in_the_index():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    index = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert name in index, f"notebooks/README.md does not list {name}"
        dirty = [
            i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)
        ]
        assert not dirty, (
            f"{name}: cells {dirty} have outputs; clear them before committing "
            f"(jupyter nbconvert --clear-output --inplace notebooks/{name})"
        )
        assert "parameters" in nb.cells[1].metadata.get("tags", []), (
            f"{name}: the second cell reads the parameters"
        )
    # The bias heads' cells are real: they call analyze() (no placeholder is left).
    for name in ("01_training_data.ipynb", "03_label_and_retrain.ipynb"):
        cells = tagged(nbformat.read(NOTEBOOKS / name, as_version=4), "bias-heads")
        assert cells[0].cell_type == "markdown" and {c.cell_type for c in cells[1:]} == {"code"}, name
        source = "\n".join(c.source for c in cells)
        assert ".analyze(" in source, f"{name}: the bias-heads cells do not call analyze()"
        assert "placeholder" not in source.lower() and "to be filled in" not in source, name
    error_analysis = nbformat.read(NOTEBOOKS / "02_error_analysis.ipynb", as_version=4)
    assert "predictor.heads" in tagged(error_analysis, "bias-dev")[0].source
    assert ".analyze(" in tagged(error_analysis, "bias-leaning")[0].source
    retraining = nbformat.read(NOTEBOOKS / "03_label_and_retrain.ipynb", as_version=4)
    assert 'task="leaning"' in tagged(retraining, "leaning-labels")[0].source
    assert 'tasks=["leaning"]' in tagged(retraining, "leaning-retrain")[0].source


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_data_folder_stops_the_notebook_with_a_clear_message(jupyter, tmp_path, name):
    missing = tmp_path / "no-data-here"
    with pytest.raises(nbclient.exceptions.CellExecutionError) as failed:
        run_notebook(name, {"SLANT_NB_DATA": str(missing), "SLANT_NB_WORKDIR": str(tmp_path / "work")})
    message = str(failed.value)
    assert f"no labelled data at {missing}" in message and "SLANT_NB_DATA" in message


# -- executed on the tiny model and real data -------------------------------------------------------------


@pytest.mark.slow
def test_training_data_notebook(jupyter, tiny_bias_model_dir):
    model_dir, loaded_dir = tiny_bias_model_dir
    for folder in ("tweeteval_stance", "pstance", "newsmtsc", "vast", "persent", "article_bias_prediction"):
        needs_data(folder)
    check = """
assert {"against", "neutral", "favor", "rows"} <= set(balance.columns), balance.columns
assert {"semeval2016a", "pstance", "newsmtsc", "vast", "persent-dev-b"} <= set(stance["dataset"].astype(str))
actors_found = set(actor_table.index.get_level_values("actor"))
assert {"Hillary Clinton", "Bernie Sanders", "Donald Trump"} <= actors_found
assert {"left", "center", "right"} <= set(leaning.columns)
assert {"semeval2016a", "article-bias-prediction", "hyperpartisan", "babe"} <= set(lengths.index)
assert {"words median", "tokens median", "> 512 tokens %"} <= set(lengths.columns)
assert (lengths["texts"] <= ROWS).all()
assert set(predictor.heads) == {"leaning", "hyperpartisan", "loaded_language"}
gold = [e["leaning (gold)"] for e in examples]
assert gold == ["left", "right", None] and list(bias_examples["leaning (gold)"][:2]) == gold[:2]
assert examples[2]["hyperpartisan (gold)"] == "hyperpartisan"
assert {"leaning", "p left", "p right", "p hyperpartisan", "loaded sentences"} <= set(bias_examples)
for example, found in zip(examples, analyses, strict=True):
    bias = found.bias
    assert bias.leaning is not None and set(bias.leaning.probabilities) == {"left", "center", "right"}
    assert 0 <= bias.hyperpartisan <= 1 and bias.loaded_language.scored == bias.sentences > 0
    assert all(example["text"][s.start : s.end] == s.text for s in bias.loaded_language.sentences)
"""
    nb = run_notebook(
        "01_training_data.ipynb",
        {
            "SLANT_NB_DATA": str(DATA),
            "SLANT_NB_MODEL": str(model_dir),
            "SLANT_NB_LOADED_HEAD": str(loaded_dir),
            "SLANT_NB_ROWS": "40",
        },
        check,
    )
    for tag in ("label-balance-plot", "bias-plot", "length-plot"):
        assert has_figure(nb, tag), f"no figure in the {tag} cell"
    printed = stdout_of(nb, "bias-heads")
    assert "loaded_language" in printed and "sentences flagged" in printed, printed


@pytest.mark.slow
def test_error_analysis_notebook(jupyter, tiny_bias_model_dir):
    for folder in ("tweeteval_stance", "pstance", "newsmtsc", "vast", "persent", "article_bias_prediction"):
        needs_data(folder)
    check = """
assert list(summary.index) == [s.name for s in config.eval]
assert {"n", "macro_f1", "f_avg", "accuracy", "ece", "f1 neutral", "card macro_f1"} <= set(summary.columns)
assert (summary["n"] <= ROWS).all() and summary["n"].sum() == len(preds)
assert list(by_target.columns) == ["dataset", "target", "n", "macro_f1", "accuracy"]
assert (by_target["n"] >= MIN_TARGET_ROWS).all()
assert 0 < len(shown) <= EXAMPLES
assert list(head_dev.index) == ["hyperpartisan", "leaning"]
assert leaning_report["n"] == len(leaning) == ROWS and set(leaning["gold"]) <= {"left", "center", "right"}
assert sum(map(sum, leaning_report["confusion"]["matrix"])) == ROWS
assert per_outlet["articles"].sum() == ROWS and len(leaning_mistakes) <= EXAMPLES
"""
    nb = run_notebook(
        "02_error_analysis.ipynb",
        {
            "SLANT_NB_DATA": str(DATA),
            "SLANT_NB_MODEL": str(tiny_bias_model_dir[0]),
            "SLANT_NB_ROWS": "24",
            "SLANT_NB_EXAMPLES": "3",
        },
        check,
    )
    assert has_figure(nb, "confusion") and has_figure(nb, "calibration") and has_figure(nb, "bias-confusion")
    printed = stdout_of(nb, "evidence")
    assert "gold" in printed and "evidence [" in printed, printed


@pytest.mark.slow
def test_label_and_retrain_notebook(jupyter, tiny_bias_model_dir, tmp_path):
    for folder in ("tweeteval_stance", "pstance", "newsmtsc", "vast", "persent", "article_bias_prediction"):
        needs_data(folder)
    work = tmp_path / "work"
    # The heads are refitted and scored on a tiny bias data folder: the real dev split (2,356 articles
    # of Article-Bias-Prediction) would take minutes to encode; the leaning labels come from the real data.
    bias_data = write_bias_data(tmp_path / "bias-data")
    check = """
assert report.stored == len(corpus) == 10
assert [o.status for rep in steps.values() for o in rep.outcomes] == ["duplicate", "conflict", "conflict"]
assert result.version == "r1" and result.parent == "default"
assert "new-labels" in result.gate.sets and len(held_back) == result.labels["held_back"] > 0
assert (REGISTRY / "r1" / "slant.json").is_file()
rows = [line.split()[:2] for line in final.splitlines()[1:]]
assert rows == [["default", "promoted"], ["r1", "rolled_back"]], final
assert {"leaning:dev", "hyperpartisan:dev"} <= set(result.gate.sets)  # the heads, refitted on the new encoder
assert len(signals) == len(corpus) and signals[["leaning", "p hyperpartisan"]].notna().all().all()
assert leaning_write.stored == len(stored_leaning) == ROWS
assert (leaning_result.version, leaning_result.kind, leaning_result.parent) == ("r2", "heads", "default")
assert same_encoder and heads_table["refitted"].to_dict() == {"hyperpartisan": False, "leaning": True}
assert heads_table.loc["leaning", "training examples"] == 12 + heads_table.loc["leaning", "of them labels"]
assert heads_table.loc["leaning", "of them labels"] == ROWS - len(held) > 0
assert set(leaning_gate.index) == set(leaning_result.gate.sets) == {"leaning:dev", "leaning:new-labels"}
assert leaning_gate["rows"].to_dict() == {"leaning:dev": 12, "leaning:new-labels": len(held)}
assert leaning_result.status in ("candidate", "rejected") and "r2" in leaning_listing
"""
    nb = run_notebook(
        "03_label_and_retrain.ipynb",
        {
            "SLANT_NB_DATA": str(DATA),
            "SLANT_NB_MODEL": str(tiny_bias_model_dir[0]),
            "SLANT_NB_ROWS": "10",  # 3 of these 10 articles fall in the held-back slice
            "SLANT_NB_BASE_ROWS": "16",
            "SLANT_NB_EVAL_ROWS": "8",
            "SLANT_NB_MAX_STEPS": "2",
            "SLANT_NB_MAX_LENGTH": "32",
            "SLANT_NB_WORKDIR": str(work),
            "SLANT_NB_BIAS_DATA": str(bias_data),
            "SLANT_NB_BIAS_TRAIN_ROWS": "12",
            "SLANT_CACHE": str(tmp_path / "cache"),  # the heads' sentence features
        },
        check,
    )
    assert (work / "labels.db").is_file() and (work / "predictions.jsonl").is_file()
    assert "promotion gate" in stdout_of(nb, "retrain")
    printed = stdout_of(nb, "leaning-retrain")
    assert "refitting the leaning head (new labels)" in printed and "training r2" not in printed, printed
    assert "the same" in stdout_of(nb, "leaning-heads")


@pytest.mark.slow
def test_report_notebook(jupyter, tiny_model_dir, tmp_path):
    needs_data("article_bias_prediction", "articles.jsonl.xz")
    work = tmp_path / "work"
    check = """
assert len(corpus) == ROWS == 24 and corpus["source"].nunique() == 6
assert {"source", "date"} <= set(first) and first["date"].startswith("2016")
assert report.rows == ROWS and set(report.actors) <= set(ACTORS) and report.actors
assert set(by_outlet["group"]) <= set(outlets) and (by_outlet["n"] > 0).all()
assert (REPORT / "index.html").is_file() and (REPORT / "aggregates" / "stance_over_time.csv").is_file()
"""
    nb = run_notebook(
        "04_report.ipynb",
        {
            "SLANT_NB_DATA": str(DATA),
            "SLANT_NB_MODEL": str(tiny_model_dir),
            "SLANT_NB_ROWS": "24",
            "SLANT_NB_BACKEND": "torch",
            "SLANT_NB_BOOTSTRAP": "100",
            "SLANT_NB_WORKDIR": str(work),
        },
        check,
    )
    assert has_figure(nb, "report-figures"), "no figure in the report-figures cell"
    assert "index.html" in stdout_of(nb, "report")
    page = (work / "report" / "index.html").read_text(encoding="utf-8")
    assert page.count('class="actor-figure"') >= 1 and "https://" not in page
