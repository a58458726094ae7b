"""The model registry's index: the default version, numbering, promotion, the gate's veto, rollback."""

from __future__ import annotations

import pytest
from _postgres import postgres_server_fixture, postgres_url_fixture  # noqa: F401  (fixtures)
from _retrain_fixtures import fake_model_dir

from model.errors import ModelLoadError
from training.gate import NEW_LABELS, promotion_gate
from training.registry import ModelRegistry, RegistryError, default_registry_dir

PASS = promotion_gate({"dev": 70.0, NEW_LABELS: 40.0}, {"dev": 70.0, NEW_LABELS: 50.0}, compared_to="default")
FAIL = promotion_gate({"dev": 70.0, NEW_LABELS: 40.0}, {"dev": 60.0, NEW_LABELS: 50.0}, compared_to="default")


@pytest.fixture(params=["sqlite", "postgres"])
def registry(request: pytest.FixtureRequest, tmp_path):
    """The index on both backends of the label store (PostgreSQL skips, saying why, without a server)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/labels.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    with ModelRegistry.open(url, tmp_path / "registry") as reg:
        yield reg


def add(reg: ModelRegistry, gate=PASS, parent: str = "default") -> str:
    version, path = reg.reserve()
    fake_model_dir(path)
    reg.register(version, path, parent=parent, gate=gate)
    return version


def statuses(reg: ModelRegistry) -> dict[str, str]:
    return {v.version: v.status for v in reg.versions()}


def test_the_default_model_is_registered_on_first_use(registry, tmp_path):
    assert registry.promoted() is None and registry.versions() == []
    default = fake_model_dir(tmp_path / "shipped")
    current = registry.current(default)
    assert (current.version, current.status, current.path) == ("default", "promoted", str(default))
    assert registry.current(tmp_path / "elsewhere").path == str(default)  # only once
    assert current.events[0]["action"] == "registered"


def test_versions_are_numbered_and_reserved_by_their_directory(registry, tmp_path):
    registry.current(fake_model_dir(tmp_path / "shipped"))
    first, path = registry.reserve()
    second, _ = registry.reserve()  # r1's directory exists: never the same id twice
    assert (first, second) == ("r1", "r2") and path == tmp_path / "registry" / "r1"
    registry.release(path)
    with pytest.raises(ModelLoadError, match="is missing: config.json"):
        registry.register(second, tmp_path / "registry" / second, parent="default")
    fake_model_dir(tmp_path / "registry" / second)
    assert registry.register(second, tmp_path / "registry" / second, parent="default").status == "candidate"
    with pytest.raises(RegistryError, match="'r2' is already registered"):
        registry.register(second, tmp_path / "registry" / second, parent="default")
    assert registry.reserve()[0] == "r3"


def test_promote_retires_the_previous_one_and_the_gate_can_only_be_forced(registry, tmp_path):
    registry.current(fake_model_dir(tmp_path / "shipped"))
    good, bad = add(registry, PASS), add(registry, FAIL)
    assert statuses(registry) == {"default": "promoted", good: "candidate", bad: "rejected"}
    assert registry.promote(good).status == "promoted"
    assert statuses(registry) == {"default": "retired", good: "promoted", bad: "rejected"}
    with pytest.raises(RegistryError) as err:
        registry.promote(bad)
    assert str(err.value) == (
        "model version r2 failed the promotion gate (dev: macro-F1 fell 10.00 points, more than the "
        "tolerance 1) Fix: promote it anyway with `slant models promote r2 --force`"
    )
    forced = registry.promote(bad, force=True, reason="reviewed by hand")
    assert forced.status == "promoted"
    assert forced.events[-1] | {"at": None} == {
        "at": None,
        "action": "promoted (forced)",
        "previous": good,
        "forced": True,
        "reason": "reviewed by hand",
    }
    assert registry.promote(bad).status == "promoted"  # already promoted: nothing changes
    assert [v.status for v in registry.versions()].count("promoted") == 1


def test_rollback_walks_back_through_earlier_promotions(registry, tmp_path):
    registry.current(fake_model_dir(tmp_path / "shipped"))
    r1, r2 = add(registry), add(registry)
    registry.promote(r1)
    registry.promote(r2)
    left, now = registry.rollback()
    assert (left.version, left.status, now.version) == (r2, "rolled_back", r1)
    left, now = registry.rollback()
    assert (left.version, now.version) == (r1, "default")
    with pytest.raises(RegistryError, match="no version was promoted before default"):
        registry.rollback()
    registry.promote(r2)  # a rolled-back version can be promoted again by name
    assert registry.rollback()[1].version == "default"
    assert [e["action"] for e in registry.get(r2).events] == [
        "registered",
        "promoted",
        "rolled back",
        "promoted",
        "rolled back",
    ]


def test_unknown_versions_and_missing_files_say_so(registry, tmp_path):
    with pytest.raises(
        RegistryError, match=r"no model version 'r9' in the registry at .* \(versions: none yet\)"
    ):
        registry.get("r9")
    with pytest.raises(RegistryError, match="nothing is promoted"):
        registry.rollback()
    registry.current(fake_model_dir(tmp_path / "shipped"))
    version = add(registry)
    (tmp_path / "registry" / version / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="is missing: model.safetensors"):
        registry.promote(version)


def test_the_registry_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SLANT_REGISTRY", str(tmp_path / "reg"))
    assert default_registry_dir() == tmp_path / "reg"
    monkeypatch.delenv("SLANT_REGISTRY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_registry_dir() == tmp_path / "xdg" / "slant" / "registry"


def test_peek_creates_no_database(tmp_path):
    assert ModelRegistry.peek_promoted(str(tmp_path / "none.db"), tmp_path) is None
    assert not (tmp_path / "none.db").exists()
