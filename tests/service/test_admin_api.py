"""The admin API: retrain jobs (403 without admin keys, 409 on a second job, status transitions, one
real tiny retrain) and hot swaps of the model under concurrent requests."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from _api_fixtures import gated_fixture, serve_fixture, wait_ready  # noqa: F401  (fixtures)
from _retrain_fixtures import make_world, versioned_copy

from training.gate import NEW_LABELS, promotion_gate
from training.registry import ModelRegistry
from training.store import LabelStore, new_label

ADMIN = {"X-API-Key": "admin-key"}
PASS = promotion_gate({NEW_LABELS: 40.0}, {NEW_LABELS: 50.0})


def wait_job(client, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=ADMIN).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def test_admin_routes_are_off_without_admin_keys(serve, tiny_predictor):
    with serve(tiny_predictor) as c:
        for method, path in [("post", "/v1/retrain"), ("get", "/v1/jobs/abc"), ("post", "/v1/models/reload")]:
            r = getattr(c, method)(path, headers=ADMIN)
            assert r.status_code == 403, path
            assert r.json() == {
                "error": {
                    "code": "forbidden",
                    "message": "admin routes (retrain, jobs, model reload) are turned off: "
                    "this server has no admin keys",
                    "field": None,
                    "fix": "start the server with SLANT_ADMIN_KEYS=<key>[,<key>...] and send one in the "
                    "X-API-Key header",
                }
            }


def test_admin_keys_are_checked_and_also_open_the_other_routes(serve, tiny_predictor):
    with serve(tiny_predictor, admin_keys=["admin-key"], api_keys=["user-key"]) as c:
        r = c.post("/v1/retrain", json={})
        assert r.status_code == 401 and r.json()["error"]["field"] == "X-API-Key"
        r = c.post("/v1/retrain", json={}, headers={"X-API-Key": "user-key"})
        assert r.status_code == 403
        assert r.json()["error"]["message"] == "the X-API-Key header does not hold an admin key"
        for method, path in [("post", "/v1/retrain"), ("get", "/v1/jobs/abc"), ("post", "/v1/models/reload")]:
            r = getattr(c, method)(path, headers={"X-API-Key": "wrong-key"})  # not a key of this server
            assert r.status_code == 401, path
            assert r.headers["WWW-Authenticate"] == 'ApiKey header="X-API-Key"'
            assert r.json()["error"] == {
                "code": "unauthorized",
                "message": "the X-API-Key header does not hold a valid key",
                "field": "X-API-Key",
                "fix": "send the header X-API-Key: <one of SLANT_ADMIN_KEYS>",
            }
        assert c.get("/v1/models", headers=ADMIN).status_code == 200
        r = c.get("/v1/jobs/nope", headers=ADMIN)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = c.post("/v1/retrain", json={"epochs": -1}, headers=ADMIN)
        assert r.status_code == 422 and r.json()["error"]["field"] == "epochs"


def test_one_job_at_a_time_and_its_status_moves_to_succeeded(serve, tiny_predictor):
    release = threading.Event()
    seen: list[Any] = []

    def fake_retrain(options: Any, progress: Any) -> dict[str, Any]:
        seen.append(options)
        progress("training r7")
        if not release.wait(20):
            raise TimeoutError("never released")
        return {"version": "r7", "status": "candidate", "gate": PASS.to_json()}

    with serve(tiny_predictor, admin_keys=["admin-key"]) as c:
        c.app.state.slant.retrain = fake_retrain
        r = c.post("/v1/retrain", json={"epochs": 0.5, "base_rows": 100}, headers=ADMIN)
        assert r.status_code == 202
        job = r.json()
        assert r.headers["Location"] == f"/v1/jobs/{job['id']}"
        assert job["status"] in ("queued", "running") and job["params"] == {"epochs": 0.5, "base_rows": 100}

        second = c.post("/v1/retrain", headers=ADMIN)  # an empty body is allowed
        assert second.status_code == 409
        err = second.json()["error"]
        assert err["code"] == "job_running"
        assert err["message"].startswith(f"retrain job {job['id']} is ")
        assert err["fix"] == f"follow it at GET /v1/jobs/{job['id']} and retry when it has finished"
        assert second.headers["Location"] == f"/v1/jobs/{job['id']}"

        running = c.get(f"/v1/jobs/{job['id']}", headers=ADMIN).json()
        assert running["status"] == "running" and running["progress"][0]["message"] == "training r7"
        release.set()
        done = wait_job(c, job["id"])
        assert done["status"] == "succeeded" and done["error"] is None
        assert done["result"]["version"] == "r7" and done["finished_at"] is not None
        (options,) = seen
        assert (options.epochs, options.base_rows, options.promote) == (0.5, 100, True)
        assert options.config is None and options.config_version is None

        # A finished job frees the slot; a failing one reports the error in the API's format.
        def failing(options: Any, progress: Any) -> dict[str, Any]:
            from model.errors import ConfigError

            raise ConfigError("config file x.yaml does not exist", fix="check the path")

        c.app.state.slant.retrain = failing
        r = c.post("/v1/retrain", json={"config": "default-stage2"}, headers=ADMIN)
        assert r.status_code == 202
        failed = wait_job(c, r.json()["id"])
        assert failed["status"] == "failed" and failed["result"] is None
        assert failed["error"] == {
            "code": "config_error",
            "message": "config file x.yaml does not exist",
            "field": None,
            "fix": "check the path",
        }


def test_a_real_tiny_retrain_through_the_api_is_promoted_and_served(
    serve, tiny_predictor, tiny_model_dir, tmp_path
):
    world = make_world(tmp_path / "world", tiny_model_dir)
    settings = dict(
        admin_keys=["admin-key"],
        model=str(tiny_model_dir),
        database_url=world.database,
        registry=str(world.registry),
        retrain_configs=str(world.config.parent),
    )
    with serve(tiny_predictor, **settings) as c:
        body = {"config": world.config.stem, "tolerance": 100}
        r = c.post("/v1/retrain", json=body, headers=ADMIN)
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["id"])
        assert job["status"] == "succeeded", job
        result = job["result"]
        assert (result["version"], result["status"], result["parent"]) == ("r1", "promoted", "default")
        assert result["gate"]["passed"] and result["reload"]["changed"] is True
        messages = [p["message"] for p in job["progress"]]
        assert messages[0] == f"current model: default ({tiny_model_dir.resolve()})"
        assert any(m.startswith("fine-tuning: step ") for m in messages) and messages[-1] == "serving r1"

        info = c.get("/v1/models").json()["models"][0]
        assert (info["version"], info["registry_version"], info["name"]) == ("r1", "r1", "tiny-retrained")
        answer = c.post("/v1/stance", json={"text": "Sanders was great.", "actors": ["Bernie Sanders"]})
        assert answer.json()["version"] == "r1"


@pytest.fixture
def registry_world(tmp_path, tiny_model_dir):
    """A registry with two loadable tiny versions (model versions "A" and "B"), none promoted."""
    database, root = f"sqlite:///{tmp_path}/labels.db", tmp_path / "registry"
    with ModelRegistry.open(database, root) as reg:
        reg.current(tiny_model_dir)
        for name, seed in (("A", 1), ("B", 2)):
            version, path = reg.reserve()
            versioned_copy(tiny_model_dir, path, name, seed=seed)
            reg.register(version, path, parent="default", gate=PASS)
    return database, root


def test_hot_swap_under_concurrent_requests_drops_nothing(
    serve, tiny_predictor, tiny_model_dir, registry_world
):
    database, root = registry_world
    settings = dict(
        admin_keys=["admin-key"], model=str(tiny_model_dir), database_url=database, registry=str(root)
    )
    with serve(tiny_predictor, **settings) as c:
        stop = threading.Event()
        answers: list[tuple[float, int, str | None]] = []  # (sent at, status, model version)
        lock = threading.Lock()

        def hammer(i: int) -> None:
            body = {"items": [{"text": f"Sanders spoke to crowd {i}."}, {"text": "The DNC met."}]}
            while not stop.is_set():
                sent = time.monotonic()
                r = c.post("/v1/stance", json=body)
                version = r.json().get("version") if r.status_code == 200 else r.text
                with lock:
                    answers.append((sent, r.status_code, version))

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        swapped_at = []
        try:
            for version in ("r1", "r2"):
                time.sleep(0.3)
                with ModelRegistry.open(database, root) as reg:
                    reg.promote(version)
                r = c.post("/v1/models/reload", headers=ADMIN)
                assert r.status_code == 200, r.text
                assert r.json()["changed"] is True and r.json()["current"]["registry_version"] == version
                swapped_at.append(time.monotonic())
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(30)

        failed = [a for a in answers if a[1] != 200]
        assert not failed, failed[:5]
        after_first = [v for sent, _, v in answers if swapped_at[0] < sent < swapped_at[1]]
        after_second = [v for sent, _, v in answers if sent > swapped_at[1]]
        assert after_first and set(after_first) <= {"A", "B"}
        assert after_second and set(after_second) == {"B"}
        assert {v for _, _, v in answers} <= {"0", "A", "B"}
        info = c.get("/v1/models").json()["models"][0]
        assert (info["version"], info["registry_version"]) == ("B", "r2")
        assert c.post("/v1/models/reload", headers=ADMIN).json()["changed"] is False
        assert 'slant_model_reloads_total{outcome="swapped"} 2.0' in c.get("/metrics").text


def test_a_batch_running_during_the_swap_finishes_on_the_old_model(
    serve, gated, tiny_model_dir, registry_world
):
    database, root = registry_world
    settings = dict(
        admin_keys=["admin-key"], model=str(tiny_model_dir), database_url=database, registry=str(root)
    )
    with serve(gated, ready=False, **settings) as c:
        gated.gate.set()
        wait_ready(c)
        gated.gate.clear()
        first: dict[str, Any] = {}
        t = threading.Thread(
            target=lambda: first.setdefault("r", c.post("/v1/stance", json={"text": "The DNC met."}))
        )
        t.start()
        deadline = time.monotonic() + 20
        while gated.calls < 2:  # the warm-up, then this request's batch, now held in predict()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with ModelRegistry.open(database, root) as reg:
            reg.promote("r1")
        r = c.post("/v1/models/reload", headers=ADMIN)  # loads beside the running batch, then switches
        assert r.status_code == 200 and r.json()["current"]["registry_version"] == "r1"
        second: dict[str, Any] = {}
        t2 = threading.Thread(target=lambda: second.setdefault("r", c.post("/v1/stance", json={"text": "x"})))
        t2.start()
        gated.gate.set()
        t.join(30)
        t2.join(30)
        assert first["r"].status_code == 200 and first["r"].json()["version"] == "0"  # the old model
        assert second["r"].status_code == 200 and second["r"].json()["version"] == "A"  # formed after
        assert gated.calls == 2


def test_a_version_that_fails_to_load_leaves_the_old_model_serving(
    serve, tiny_predictor, tiny_model_dir, tmp_path
):
    database, root = f"sqlite:///{tmp_path}/labels.db", tmp_path / "registry"
    with ModelRegistry.open(database, root) as reg:
        reg.current(tiny_model_dir)
        version, path = reg.reserve()
        versioned_copy(tiny_model_dir, path, "broken")
        (path / "model.safetensors").write_bytes(b"not safetensors")
        reg.register(version, path, parent="default")
        reg.promote(version)
    settings = dict(admin_keys=["admin-key"], database_url=database, registry=str(root), reload_seconds=0.1)
    with serve(tiny_predictor, **settings) as c:
        r = c.post("/v1/models/reload", headers=ADMIN)
        assert r.status_code == 500
        err = r.json()["error"]
        assert err["code"] == "reload_failed"
        assert err["message"].startswith(f"could not load model version r1 from {path}: ")
        assert err["message"].endswith("; tiny-test version 0 keeps serving")
        assert "slant models rollback" in err["fix"]
        assert c.post("/v1/stance", json={"text": "The DNC met."}).json()["version"] == "0"
        assert c.get("/v1/models").json()["models"][0]["registry_version"] is None

        # The poll (SLANT_RELOAD_SECONDS) follows the pointer once it moves to a loadable version.
        with ModelRegistry.open(database, root) as reg:
            reg.promote("default")
        deadline = time.monotonic() + 20
        while c.get("/v1/models").json()["models"][0]["registry_version"] != "default":
            assert time.monotonic() < deadline, "the poll never picked up the promoted version"
            time.sleep(0.05)
        assert c.post("/v1/stance", json={"text": "The DNC met."}).json()["version"] == "0"


def _refused(r, field: str, message: str) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert (err["code"], err["field"]) == ("invalid_input", field), err
    assert message in err["message"], err
    return err


def test_retrain_reads_only_configs_named_from_the_config_folder_or_the_registry(
    serve, tiny_predictor, tiny_model_dir, tmp_path
):
    import os

    seen: list[Any] = []
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "small.yaml").write_text("name: small\n", encoding="utf-8")
    os.mkfifo(configs / "fifo.yaml")  # listed, but the loader refuses it without blocking
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: SECRET-CONTENT: x\n", encoding="utf-8")
    database = f"sqlite:///{tmp_path}/labels.db"
    with ModelRegistry.open(database, tmp_path / "registry") as reg:
        reg.current(tiny_model_dir)
    with LabelStore.open(database) as store:  # a label, so that the real retrain gets to the config
        store.add([new_label(text="Sanders spoke.", actor="Bernie Sanders", label="favor", annotator="t")])
    settings = dict(
        admin_keys=["admin-key"],
        database_url=database,
        registry=str(tmp_path / "registry"),
        retrain_configs=str(configs),
    )
    with serve(tiny_predictor, **settings) as c:
        c.app.state.slant.retrain = lambda options, progress: seen.append(options) or {"status": "candidate"}
        for path in ["/dev/zero", str(secret), "../secret", "configs/small.yaml", "/etc/passwd", ""]:
            r = c.post("/v1/retrain", json={"config": path}, headers=ADMIN)
            err = _refused(r, "config", "config takes a name, not a path")
            assert "SECRET" not in r.text and "root:" not in r.text
            assert "'default-stage3'" in err["message"]
        r = c.post("/v1/retrain", json={"config": "secret"}, headers=ADMIN)
        err = _refused(
            r, "config", "no retrain config named 'secret': the configs are fifo, small (the server's config"
        )
        assert str(configs) not in err["message"]
        assert err["message"].endswith("and the registry versions are default")
        assert c.app.state.slant.jobs.active() is None and not seen

        for name, expected in [
            ("small", {"config": str(configs / "small.yaml")}),
            ("small.yaml", None),
            ("default", {"config_version": "default"}),
        ]:
            r = c.post("/v1/retrain", json={"config": name}, headers=ADMIN)
            assert r.status_code == 202, r.text
            wait_job(c, r.json()["id"])
            options = seen[-1]
            got = {
                k: v for k, v in [("config", options.config), ("config_version", options.config_version)] if v
            }
            assert got == (expected or {"config": str(configs / "small.yaml")})

        # A FIFO in the folder fails the job at once (it never hangs in `running`).
        c.app.state.slant.retrain = None
        r = c.post("/v1/retrain", json={"config": "fifo"}, headers=ADMIN)
        assert r.status_code == 202
        job = wait_job(c, r.json()["id"], timeout=30)
        assert job["status"] == "failed", job
        assert "fifo.yaml is not a regular file (it is a FIFO)" in job["error"]["message"]


def test_retrain_overrides_and_data_roots_cannot_name_paths_over_http(serve, tiny_predictor):
    with serve(tiny_predictor, admin_keys=["admin-key"]) as c:
        c.app.state.slant.retrain = lambda options, progress: {"status": "candidate"}
        for item in [
            "data_root=/etc",
            "train=[{name: x, path: /dev/zero}]",
            "base_model=/tmp/m",
            "eval.0.path=/etc/shadow",
            "aggregator.data=[]",
            "output_dir=/tmp",
            "training.epochs",
        ]:
            r = c.post("/v1/retrain", json={"overrides": [item]}, headers=ADMIN)
            err = _refused(r, "overrides", f"override {item[:60]!r} is not allowed over HTTP")
            assert "training.epochs, " in err["message"] and "aggregator.c" in err["message"]
        r = c.post("/v1/retrain", json={"bias_data_root": "/"}, headers=ADMIN)
        _refused(r, "bias_data_root", "bias_data_root cannot be set over HTTP")
        for field, wrong in [("refit_aggregator", 0), ("promote", "false"), ("epochs", "1")]:
            _refused(c.post("/v1/retrain", json={field: wrong}, headers=ADMIN), field, "valid")
        r = c.post(
            "/v1/retrain",
            json={"overrides": ["training.epochs=1", "seed=3", "aggregator.c=0.5"], "bias_data_root": None},
            headers=ADMIN,
        )
        assert r.status_code == 202, r.text
        spec = c.get("/openapi.json").json()["components"]["schemas"]["RetrainRequest"]["properties"]
        assert spec["config"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
        assert spec["bias_data_root"]["type"] == "null"


def test_start_up_falls_back_to_the_last_promoted_version_that_loads(serve, tiny_model_dir, tmp_path, caplog):
    import logging

    database, root = f"sqlite:///{tmp_path}/labels.db", tmp_path / "registry"
    with ModelRegistry.open(database, root) as reg:
        reg.current(tiny_model_dir)
        good, good_path = reg.reserve()
        versioned_copy(tiny_model_dir, good_path, "A")
        reg.register(good, good_path, parent="default", gate=PASS)
        reg.promote(good)
        bad, bad_path = reg.reserve()
        versioned_copy(tiny_model_dir, bad_path, "broken")
        (bad_path / "model.safetensors").write_bytes(b"not safetensors")
        reg.register(bad, bad_path, parent=good, gate=PASS)
        reg.promote(bad)
    settings = dict(
        admin_keys=["admin-key"], database_url=database, registry=str(root), backend="torch", device="cpu"
    )
    with caplog.at_level(logging.WARNING), serve(None, **settings) as c:  # the lifespan loads the model
        info = c.get("/v1/models").json()
        assert (info["models"][0]["version"], info["models"][0]["registry_version"]) == ("A", "r1")
        (notice,) = [n for n in info["notices"] if n["kind"] == "model_fallback"]
        assert notice["message"].startswith(
            "the promoted model version r2 does not load (SafetensorError: Error while deserializing"
        )
        assert "serving r1, the last version promoted before it that loads" in notice["message"]
        assert notice["message"].endswith(
            "Fix or roll back the registry (`slant models rollback`), then POST /v1/models/reload."
        )
        assert c.post("/v1/stance", json={"text": "The DNC met."}).json()["version"] == "A"
        assert c.post("/v1/models/reload", headers=ADMIN).status_code == 500  # r2 still does not load

        with ModelRegistry.open(database, root) as reg:
            reg.rollback()  # r2 rolled back, r1 promoted: the notice goes
        assert c.post("/v1/models/reload", headers=ADMIN).json()["changed"] is False
        assert not [n for n in c.get("/v1/models").json()["notices"] if n["kind"] == "model_fallback"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith(f"model version r2 from {bad_path} does not load: ") for m in warnings)
    assert any(
        "serving r1, the last version promoted before it that loads. Fix or roll back" in m for m in warnings
    )


def test_start_up_stops_with_the_rollback_hint_when_no_version_loads(tiny_model_dir, tmp_path):
    from _api_fixtures import settings as make_settings
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.app.errors import ReloadFailedError

    database, root = f"sqlite:///{tmp_path}/labels.db", tmp_path / "registry"
    broken = versioned_copy(tiny_model_dir, tmp_path / "broken-default", "broken")
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with ModelRegistry.open(database, root) as reg:
        reg.current(broken)
    app = create_app(make_settings(database_url=database, registry=str(root), backend="torch"))
    with pytest.raises(ReloadFailedError) as info, TestClient(app):
        pass
    assert str(info.value).startswith("no model version of the registry loads: default does not load (")
    assert "`slant models rollback`" in info.value.fix
