"""`slant serve` wiring: settings from options and SLANT_* variables, handed to uvicorn."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.cli import app


@pytest.fixture
def uvicorn_calls(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kwargs: calls.append((application, kwargs)))
    for var in ("SLANT_MODEL", "SLANT_HOST", "SLANT_PORT", "SLANT_API_KEYS", "SLANT_MAX_ITEMS"):
        monkeypatch.delenv(var, raising=False)
    return calls


def test_serve_defaults_to_localhost_8000_and_the_shipped_model(uvicorn_calls):
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    ((application, kwargs),) = uvicorn_calls
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 8000)
    settings = application.state.slant.settings
    assert settings.model is None  # StancePredictor.load(None): $SLANT_MODEL or models/default
    assert application.state.slant.predictor is None  # loaded in the lifespan, not before


def test_serve_options_override_the_environment(uvicorn_calls, monkeypatch):
    monkeypatch.setenv("SLANT_PORT", "9001")
    monkeypatch.setenv("SLANT_API_KEYS", "k1,k2")
    result = CliRunner().invoke(app, ["serve", "--model", "some/dir", "--port", "9100", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    ((application, kwargs),) = uvicorn_calls
    assert (kwargs["host"], kwargs["port"]) == ("0.0.0.0", 9100)
    assert application.state.slant.settings.model == "some/dir"
    assert application.state.slant.settings.api_keys == ["k1", "k2"]


def test_serve_rejects_bad_settings_with_the_variable_name(uvicorn_calls, monkeypatch):
    monkeypatch.setenv("SLANT_MAX_ITEMS", "1000")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and not uvicorn_calls
    assert "max_items (1000) is larger than queue_size (256)" in result.output
    monkeypatch.setenv("SLANT_MAX_ITEMS", "many")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "SLANT_MAX_ITEMS: Input should be a valid integer" in result.output
