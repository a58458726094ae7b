"""Fine-tuning end to end on the tiny model: loss falls, save/load and batching change nothing."""

import json

import numpy as np

from model import StancePredictor
from model.loading import save_model_dir
from training.config import TrainConfig
from training.pipeline import finalize
from training.train import fine_tune

EXAMPLES = [
    ("Bernie Sanders", "Bernie is wonderful and honest", "favor"),
    ("Bernie Sanders", "Bernie is a terrible liar", "against"),
    ("Hillary Clinton", "Hillary will win, so proud of her", "favor"),
    ("Hillary Clinton", "Hillary belongs in jail", "against"),
    ("DNC", "The DNC met on Tuesday in a hotel", "neutral"),
    ("Donald Trump", "Trump is a disgrace", "against"),
    ("Donald Trump", "Trump spoke in Ohio on Monday", "neutral"),
    ("Joe Biden", "Biden has my vote, great man", "favor"),
]


def cross_entropy(predictor, rows):
    probs = predictor.score_pairs([r[0] for r in rows], [r[1] for r in rows])
    gold = [predictor.labels.index(r[2]) for r in rows]
    return float(-np.mean(np.log(probs[np.arange(len(rows)), gold] + 1e-9)))


def test_overfit_eight_examples(tmp_path, tiny_model_dir):
    data = tmp_path / "eight.jsonl"
    data.write_text("".join(json.dumps({"target": t, "text": x, "label": y}) + "\n" for t, x, y in EXAMPLES))
    config = TrainConfig.model_validate(
        {
            "name": "overfit",
            "base_model": str(tiny_model_dir),
            "max_length": 32,
            "data_root": str(tmp_path),
            "train": [{"name": "eight", "path": "eight.jsonl"}],
            "eval": [{"name": "eight", "path": "eight.jsonl"}],
            "training": {
                "epochs": 60,
                "batch_size": 8,
                "learning_rate": 3e-3,
                "warmup_ratio": 0.0,
                "logging_steps": 10,
            },
            "fp16_weights": False,
        }
    )
    before = cross_entropy(StancePredictor.load(tiny_model_dir, backend="torch"), EXAMPLES)
    out = fine_tune(config, output_dir=tmp_path / "model")
    trained = StancePredictor.load(out, backend="torch")
    after = cross_entropy(trained, EXAMPLES)
    assert after < before / 4, (before, after)

    # The model directory is self-describing, and finalize adds the dev report and card.
    finalize(out, config)
    meta = json.loads((out / "slant.json").read_text())
    assert meta["labels"] == ["against", "neutral", "favor"]
    # Fine-tuned from a slant model: the root encoder stays the base, the directory is the parent.
    assert meta["base_model"] == "tiny-random-bert"
    assert meta["parents"][0]["path"] == str(tiny_model_dir) and meta["parents"][0]["name"] == "tiny-test"
    assert meta["training_config"]["name"] == "overfit" and meta["data_hashes"]["eight"].startswith("sha256:")
    assert meta["metrics"]["dev"]["eight"]["accuracy"] == 100.0
    assert "# overfit" in (out / "README.md").read_text()
    # Finalized again with other eval sets (as after a weight average): the record says what scored it.
    other = config.model_copy(update={"eval": [config.eval[0].model_copy(update={"name": "eight-again"})]})
    finalize(out, other)
    meta = json.loads((out / "slant.json").read_text())
    assert [s["name"] for s in meta["training_config"]["eval"]] == ["eight-again"]
    assert meta["training_config"]["train"][0]["name"] == "eight"  # what it was trained on stays
    assert "eval:eight-again" in meta["data_hashes"] and "eval:eight" not in meta["data_hashes"]
    assert set(meta["metrics"]["dev"]) == {"eight-again"}

    # Save and load again: identical predictions; batched equals single.
    again = save_model_dir(tmp_path / "again", trained.model, trained.tokenizer, trained.meta, fp16=False)
    reloaded = StancePredictor.load(again, backend="torch")
    texts, targets = [r[1] for r in EXAMPLES], [r[0] for r in EXAMPLES]
    batched = reloaded.score_pairs(targets, texts)
    assert np.allclose(trained.score_pairs(targets, texts), batched, atol=1e-6)
    single = np.vstack([reloaded.score_pairs([t], [x]) for t, x in zip(targets, texts, strict=True)])
    assert np.allclose(single, batched, atol=1e-5)
