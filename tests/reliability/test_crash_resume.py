"""kill -9 of `slant label` mid-run, then the same command again: it resumes, and every input row is in
the output exactly once, in order, labelled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from service.batch.parts import parts_dir_for

pytestmark = pytest.mark.reliability

ROWS = 240
CHUNK = 20


def test_kill_9_mid_run_then_resume_loses_and_duplicates_nothing(tiny_model_dir: Path, tmp_path: Path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps({"doc": f"doc-{i}", "text": f"Sanders and the DNC met in town {i}. Clinton spoke."})
            + "\n"
            for i in range(ROWS)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    parts = parts_dir_for(out)
    cmd = [sys.executable, "-m", "service.cli", "label", str(src), "-o", str(out), "-m", str(tiny_model_dir)]
    cmd += ["-a", "DNC", "--id-field", "doc", "--chunk-size", str(CHUNK), "--evidence", "1"]
    cmd += ["--batch-size", "4", "--backend", "torch"]
    env = dict(os.environ, HF_HUB_OFFLINE="1")

    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (parts / "part-000001.jsonl").exists():  # two chunks committed: the run is mid-way
            assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, "no chunk was committed in 120 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "a killed run must not leave a finished-looking output"
    committed = sorted(parts.glob("part-??????.jsonl"))
    assert 2 <= len(committed) < ROWS // CHUNK

    resumed = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    assert summary["resumed_rows"] >= CHUNK * len(committed), summary  # the committed chunks were kept
    assert (summary["rows_read"], summary["labelled"], summary["errors"]) == (ROWS, ROWS, 0)
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]
    assert [r["row"] for r in got] == list(range(ROWS)), "rows lost, duplicated or out of order"
    assert [r["id"] for r in got] == [f"doc-{i}" for i in range(ROWS)]
    assert all([a["actor"] for a in r["actors"]] == ["Democratic National Committee"] for r in got)
    assert not parts.exists(), "the parts are removed once the output is complete"
    errors = out.with_name(out.name + ".errors.jsonl")
    assert not errors.exists() or not errors.read_text(encoding="utf-8").strip()
