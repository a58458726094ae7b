"""API keys, CORS and settings from the environment."""

from __future__ import annotations

import pytest
from _api_fixtures import client_fixture, serve_fixture  # noqa: F401  (fixtures)
from pydantic import ValidationError

from service.app import Settings

KEYS = ["k-alpha", "k-beta"]
TEXT = {"text": "The DNC met in Philadelphia.", "actors": ["DNC"]}


def test_api_keys_guard_every_v1_route(serve, tiny_predictor):
    with serve(tiny_predictor, api_keys=KEYS) as c:
        for method, path, kwargs in [("POST", "/v1/stance", {"json": TEXT}), ("GET", "/v1/models", {})]:
            r = c.request(method, path, **kwargs)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
            assert r.json()["error"]["message"] == "this server needs an API key in the X-API-Key header"
            assert r.headers["WWW-Authenticate"].startswith("ApiKey")
            r = c.request(method, path, headers={"X-API-Key": "k-gamma"}, **kwargs)
            assert r.status_code == 401
            assert r.json()["error"]["message"] == "the X-API-Key header does not hold a valid key"
            for key in KEYS:
                assert c.request(method, path, headers={"X-API-Key": key}, **kwargs).status_code == 200
        # The key is checked before the body: a caller without one learns nothing about the body rules.
        r = c.post("/v1/stance", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 401
        headers = {"X-API-Key": "k-alpha", "content-type": "application/json"}
        r = c.post("/v1/stance", content=b"{not json", headers=headers)
        assert r.status_code == 422
        # Health, readiness, metrics and docs stay open.
        for path in ["/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"]:
            assert c.get(path).status_code == 200, path
        spec = c.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["APIKeyHeader"] == {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "One of SLANT_API_KEYS.",
        }
        assert spec["paths"]["/v1/stance"]["post"]["security"] == [{"APIKeyHeader": []}]
        assert "security" not in spec["paths"]["/healthz"]["get"]
        assert 'route="/v1/stance",status="401"' in c.get("/metrics").text


def test_auth_off_by_default(client):
    assert client.post("/v1/stance", json=TEXT).status_code == 200
    assert client.post("/v1/stance", json=TEXT, headers={"X-API-Key": "anything"}).status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_cors(serve, client, tiny_predictor):
    preflight = {
        "Origin": "https://newsroom.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key",
    }
    # Off by default: no CORS headers.
    r = client.post("/v1/stance", json=TEXT, headers={"Origin": "https://newsroom.example"})
    assert "access-control-allow-origin" not in r.headers
    with serve(tiny_predictor, cors_origins=["https://newsroom.example"], api_keys=["k"]) as c:
        r = c.options("/v1/stance", headers=preflight)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://newsroom.example"
        assert "x-api-key" in r.headers["access-control-allow-headers"].lower()
        r = c.post("/v1/stance", json=TEXT, headers={"Origin": "https://newsroom.example", "X-API-Key": "k"})
        assert r.headers["access-control-allow-origin"] == "https://newsroom.example"
        assert "x-inference-time-ms" in r.headers["access-control-expose-headers"].lower()
        r = c.options("/v1/stance", headers=preflight | {"Origin": "https://elsewhere.example"})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("SLANT_API_KEYS", "k1, k2")
    monkeypatch.setenv("SLANT_CORS_ORIGINS", '["https://a.example", "https://b.example"]')
    monkeypatch.setenv("SLANT_MAX_ITEMS", "16")
    monkeypatch.setenv("SLANT_MODEL", "")
    monkeypatch.setenv("SLANT_PORT", "9000")
    s = Settings()
    assert s.api_keys == ["k1", "k2"] and s.cors_origins == ["https://a.example", "https://b.example"]
    assert (s.max_items, s.model, s.port, s.host, s.max_body_bytes) == (
        16,
        None,
        9000,
        "127.0.0.1",
        2 * 1024 * 1024,
    )
    assert "k1" not in repr(s)


def test_a_smaller_queue_alone_lowers_the_default_max_items(monkeypatch):
    monkeypatch.setenv("SLANT_QUEUE_SIZE", "32")
    assert (Settings().queue_size, Settings().max_items) == (32, 32)
    assert Settings(queue_size=8).max_items == 8
    assert Settings(queue_size=1000).max_items == 64
    monkeypatch.setenv("SLANT_MAX_ITEMS", "16")
    assert Settings().max_items == 16


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"max_text_chars": 200_001}, "less than or equal to 200000"),
        ({"max_actors": 33}, "less than or equal to 32"),
        ({"max_items": 300, "queue_size": 256}, "max_items (300) is larger than queue_size (256)"),
        ({"api_keys": ["ok", " "]}, "empty key"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_settings_are_checked(overrides, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(**overrides)
