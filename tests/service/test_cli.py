import json

from typer.testing import CliRunner

from service.cli import app

runner = CliRunner()


def test_predict_prints_json(tiny_model_dir):
    result = runner.invoke(
        app,
        [
            "predict",
            "The DNC rigged it, says Sanders.",
            "-a",
            "DNC",
            "-a",
            "Bernie",
            "--model",
            str(tiny_model_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["model"] == "tiny-test"
    assert [a["actor"] for a in out["actors"]] == ["Democratic National Committee", "Bernie Sanders"]


def test_predict_reads_files_and_rejects_bad_bytes(tiny_model_dir, tmp_path):
    good = tmp_path / "a.txt"
    good.write_text("Hillary Clinton spoke in Ohio.")
    assert runner.invoke(app, ["predict", "-f", str(good), "--model", str(tiny_model_dir)]).exit_code == 0
    bad = tmp_path / "b.txt"
    bad.write_bytes(b"Clinton \xff\xfe")
    result = runner.invoke(app, ["predict", "-f", str(bad), "--model", str(tiny_model_dir)])
    assert result.exit_code == 2
    assert "not valid UTF-8" in result.output and "Traceback" not in result.output


def test_demo_runs_on_a_model(tiny_model_dir):
    result = runner.invoke(app, ["demo", "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert "Bernie Sanders" in result.output and "evidence [" in result.output


def test_evaluate_reports_per_file_and_target(tiny_model_dir, tmp_path):
    data = tmp_path / "dev.jsonl"
    rows = [
        {
            "text": f"Sanders said thing {i}.",
            "target": "Bernie Sanders",
            "label": ["favor", "against", "none"][i % 3],
        }
        for i in range(12)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["reports"]["dev.jsonl"]
    assert report["n"] == 12 and set(report) >= {
        "macro_f1",
        "f_avg",
        "accuracy",
        "ece",
        "confusion",
        "per_target",
    }
    assert report["per_target"]["Bernie Sanders"]["n"] == 12


def test_errors_are_one_line_not_tracebacks(tmp_path):
    result = runner.invoke(app, ["predict", "hi", "--model", str(tmp_path / "nope")])
    assert result.exit_code == 2 and result.output.startswith("error: model directory")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: x\n")
    result = runner.invoke(app, ["train", "--config", str(cfg)])
    assert result.exit_code == 2 and "does not validate" in result.output


def test_serve_refuses_a_missing_model_before_starting(tmp_path):
    result = runner.invoke(app, ["serve", "--model", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
    (tmp_path / "half").mkdir()
    result = runner.invoke(app, ["serve", "--model", str(tmp_path / "half")])
    assert result.exit_code == 2 and "is missing: config.json" in result.output


def test_serve_rejects_an_unknown_backend(tiny_model_dir):
    result = runner.invoke(app, ["serve", "--model", str(tiny_model_dir), "--backend", "tpu"])
    assert result.exit_code == 2
    assert "SLANT_BACKEND" in result.output and "onnx-int8" in result.output


def test_export_onnx_writes_both_files(tiny_model_dir, tmp_path):
    result = runner.invoke(app, ["export-onnx", "--model", str(tiny_model_dir), "-o", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["model-int8.onnx", "model.onnx"]


def test_export_onnx_fills_the_cache_the_backends_read(tiny_model_dir, tmp_path, monkeypatch):
    from model import StancePredictor
    from model.backends import onnx_cache_dir

    monkeypatch.setenv("SLANT_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["export-onnx", "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    p = StancePredictor.load(tiny_model_dir, backend="onnx-int8", device="cpu")
    assert p.backend.path == onnx_cache_dir(p.encoder_hash) / "model-int8.onnx"  # type: ignore[attr-defined]
    assert [d.name for d in (tmp_path / "cache" / "onnx").iterdir()] == [onnx_cache_dir(p.encoder_hash).name]
