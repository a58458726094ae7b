"""Every client mistake gets the one error format, the right status, and is never logged as an error."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from _api_fixtures import client_fixture, serve_fixture  # noqa: F401  (fixtures)


def _error(r, status: int, code: str, field: str | None = None, message: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message", "field", "fix"}
    assert err["code"] == code
    if field is not None:
        assert err["field"] == field, err
    if message is not None:
        assert message in err["message"], err
    return err


def _post(client, body: bytes, content_type: str | None = "application/json", **headers: str):
    if content_type:
        headers["content-type"] = content_type
    return client.post("/v1/stance", content=body, headers=headers)


@pytest.mark.parametrize(
    "body, message",
    [
        (
            b'{"text": "The DNC met.",',
            "not valid JSON: Expecting property name enclosed in double quotes at character 24",
        ),
        (b"{'text': 'single quotes'}", "not valid JSON"),
        (b"[" * 100_000, "could not be parsed as JSON (nested too deeply"),
        (
            b'{"text": "x", "evidence": 1' + b"0" * 5000 + b"}",
            "or a number with too many digits",
        ),
    ],
)
def test_malformed_json(client, body, message):
    _error(_post(client, body), 422, "invalid_input", message=message)


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({"text": 5}, "text", "valid string; found integer"),
        ({"text": ["a", "b"]}, "text", "found array"),
        ({"items": {"text": "x"}}, "items", "valid list; found object"),
        ({"items": ["just a string"]}, "items[0]", "found string"),
        ({"text": "x", "actors": "DNC"}, "actors", "valid list; found string"),
        (
            {"text": "x", "actors": [5]},
            "actors[0]",
            "expected an actor name or an object with a 'name'; found integer",
        ),
        ({"text": "x", "actors": [{"aliases": ["Dems"]}]}, "actors[0].name", "this field is required"),
        (
            {"text": "x", "actors": [{"name": "DNC", "party": "D"}]},
            "actors[0].party",
            "xtra inputs are not permitted",
        ),
        ({"text": "x", "evidence": "many"}, "evidence", "valid integer"),
        ({"text": "x", "evidence": -1}, "evidence", "greater than or equal to 0"),
        ({"text": "x", "score_unmentioned": {"a": 1}}, "score_unmentioned", "valid boolean"),
        ({"text": "x", "colour": "red"}, "colour", "xtra inputs are not permitted"),
        ({"items": [{"id": [1], "text": "x"}]}, "items[0].id", "found array"),
        (["a", "list"], None, "valid dictionary"),
        ("a string", None, "valid dictionary"),
        (1.5, None, "valid dictionary"),
    ],
)
def test_wrong_types(client, payload, field, message):
    err = _error(client.post("/v1/stance", json=payload), 422, "invalid_input", message=message)
    assert err["field"] == field


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({}, None, "send either 'text' (one text) or 'items'"),
        ({"actors": ["DNC"]}, None, "send either 'text'"),
        ({"text": "x", "items": [{"text": "y"}]}, None, "not both"),
        ({"items": [{"id": 1}]}, "items[0].text", "this field is required"),
        ({"items": []}, "items", "items is an empty list"),
    ],
)
def test_missing_text(client, payload, field, message):
    err = _error(client.post("/v1/stance", json=payload), 422, "invalid_input", message=message)
    assert err["field"] == field


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({"text": ""}, "text", "text is empty or only whitespace"),
        ({"text": " \n\t "}, "text", "text is empty or only whitespace"),
        ({"items": [{"text": "fine"}, {"text": ""}]}, "items[1].text", "empty"),
        ({"text": "x", "actors": [""]}, "actors[0]", "actor name is empty"),
        ({"text": "x", "actors": []}, "actors", "actor list is empty"),
        (
            {"items": [{"text": "x", "actors": [{"name": "DNC", "aliases": [""]}]}]},
            "items[0].actors[0].aliases",
            "non-empty strings",
        ),
    ],
)
def test_empty_strings(client, payload, field, message):
    err = _error(client.post("/v1/stance", json=payload), 422, "invalid_input", field=field, message=message)
    assert err["fix"]


def test_empty_body_and_wrong_content_type(client):
    _error(_post(client, b""), 422, "invalid_input", "body", "the request body is empty")
    body = b'{"text": "The DNC met.", "actors": ["DNC"]}'
    err = _error(_post(client, body, "text/plain"), 415, "unsupported_media_type", "Content-Type")
    assert err == {
        "code": "unsupported_media_type",
        "message": "expected a JSON body (Content-Type: application/json), found Content-Type 'text/plain'",
        "field": "Content-Type",
        "fix": "send JSON with the header Content-Type: application/json",
    }
    _error(_post(client, b"text=hello", "application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    _error(_post(client, body, "multipart/form-data; boundary=x"), 415, "unsupported_media_type")
    # No Content-Type at all is refused too: a web page can send it across sites without a preflight.
    _error(_post(client, body, None), 415, "unsupported_media_type", message="found no Content-Type")
    assert _post(client, body, "application/json; charset=utf-8").status_code == 200


def test_ten_megabyte_body_is_413_by_content_length(client):
    body = json.dumps({"text": "word " * 2_000_000}).encode()
    assert len(body) > 10_000_000
    _error(
        _post(client, body),
        413,
        "input_too_large",
        "body",
        f"request body is {len(body):,} bytes; the limit is 2,097,152",
    )


def test_streamed_body_over_the_limit_is_413(client):
    def chunks():
        yield b'{"text": "'
        for _ in range(10_000):  # 10 MB, sent chunked: no Content-Length to check up front
            yield b"a" * 1000
        yield b'"}'

    r = _post(client, chunks())
    _error(r, 413, "input_too_large", "body", "request body is over 2,097,152 bytes")


@pytest.mark.parametrize("offered, pulled_at_most", [(100, 100), (10**9, 336)])
def test_streamed_body_over_the_limit_is_drained_within_a_bound(client, offered, pulled_at_most):
    # Straight through ASGI, to count what the server pulls from the client: the body is kept up to
    # the limit, then the rest is read and thrown away (so the client gets to read the 413), up to
    # 32 MiB (336 chunks of 100 kB) of an endless stream.
    from service.app.middleware import DRAIN_BYTES

    assert DRAIN_BYTES == 32 * 1024 * 1024
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"a" * 100_000, "more_body": pulled < offered}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/stance",
        "raw_path": b"/v1/stance",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("testclient", 50000),
        "root_path": "",
        "app": client.app,
    }
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "input_too_large"
    assert pulled == pulled_at_most
    assert (b"connection", b"close") in sent[0]["headers"]


def test_ten_thousand_items_is_413(client):
    r = client.post("/v1/stance", json={"items": [{"text": "The DNC met."}] * 10_000})
    _error(r, 413, "input_too_large", "items", "10,000 items in one request; the limit is 64")


def test_text_and_actor_limits_are_413(client):
    _error(
        client.post("/v1/stance", json={"text": "a" * 200_001}),
        413,
        "input_too_large",
        "text",
        "text has 200,001 characters; the limit is 200,000",
    )
    actors = [f"Person Number{i}" for i in range(33)]
    _error(
        client.post("/v1/stance", json={"items": [{"text": "x", "actors": actors}]}),
        413,
        "input_too_large",
        "items[0].actors",
        "33 actors; the limit is 32",
    )


def test_lower_service_limits(serve, tiny_predictor):
    with serve(tiny_predictor, max_text_chars=100, max_items=2, max_actors=1, max_body_bytes=4096) as c:
        _error(
            c.post("/v1/stance", json={"text": "a" * 101}), 413, "input_too_large", "text", "the limit is 100"
        )
        _error(c.post("/v1/stance", json={"items": [{"text": "a"}] * 3}), 413, "input_too_large", "items")
        _error(
            c.post("/v1/stance", json={"text": "a", "actors": ["DNC", "GOP"]}),
            413,
            "input_too_large",
            "actors",
        )
        _error(
            c.post("/v1/stance", json={"items": [{"text": "a" * 90}] * 2, "actors": ["x" * 4000]}),
            413,
            "input_too_large",
            "body",
        )
        assert c.post("/v1/stance", json={"text": "The DNC met.", "actors": ["DNC"]}).status_code == 200


def test_invalid_utf8_body(client):
    body = b'{"text": "caf\xe9 Sanders"}'  # Latin-1, not UTF-8
    _error(_post(client, body), 422, "invalid_input", "body", "not valid UTF-8 (bad byte 0xe9 at byte 13)")


@pytest.mark.parametrize(
    "body, content_type",
    [
        (bytes(range(256)) * 8, "application/octet-stream"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "application/json"),
        (b"\x1f\x8b\x08\x00" + bytes(100), "application/json"),  # gzip
    ],
)
def test_binary_body(client, body, content_type):
    if content_type == "application/json":
        _error(_post(client, body, content_type), 422, "invalid_input", "body")
    else:
        _error(_post(client, body, content_type), 415, "unsupported_media_type", "Content-Type")


def test_binary_text_and_lone_surrogates(client):
    _error(
        client.post("/v1/stance", json={"text": "GIF89a\x00\x00\x01"}),
        422,
        "invalid_input",
        "text",
        "NUL bytes, so it looks like binary data",
    )
    # A lone surrogate is legal in JSON's \u escapes but is not Unicode text.
    body = b'{"text": "Sanders \\ud800 spoke", "actors": ["Bernie Sanders"]}'
    _error(
        _post(client, body),
        422,
        "invalid_input",
        "text",
        "unpaired UTF-16 surrogate (\\ud800) at character 8",
    )
    body = b'{"items": [{"id": "\\udfff", "text": "x"}]}'
    _error(_post(client, body), 422, "invalid_input", "items[0].id", "surrogate")
    body = b'{"text": "x", "\\ud800": 1}'
    _error(_post(client, body), 422, "invalid_input", message="valid string")


def test_unknown_route_and_method(client):
    _error(client.get("/v1/nothing"), 404, "not_found", message="no route GET /v1/nothing")
    _error(client.get("/v1/stance"), 405, "method_not_allowed", message="GET is not allowed on /v1/stance")


def test_a_bug_is_a_500_in_the_same_format_and_logged(serve, tiny_predictor, caplog):
    class Broken:
        def __init__(self):
            self.calls = 0

        def __getattr__(self, name):
            return getattr(tiny_predictor, name)

        def predict(self, *args, **kwargs):
            self.calls += 1
            if self.calls > 1:  # the warm-up works, then the predictor breaks
                raise RuntimeError("boom")
            return tiny_predictor.predict(*args, **kwargs)

    with serve(Broken()) as c, caplog.at_level(logging.INFO):
        r = c.post("/v1/stance", json={"text": "The DNC met.", "actors": ["DNC"]})
        _error(r, 500, "internal_error", message="unexpected error")
        assert "boom" not in r.text
    assert any(rec.levelno == logging.ERROR and rec.exc_info for rec in caplog.records)


def test_client_mistakes_are_not_logged_as_errors(client, caplog):
    with caplog.at_level(logging.DEBUG):
        _post(client, b"{bad")
        _post(client, b"\xff\xfe")
        client.post("/v1/stance", json={"text": ""})
        client.post("/v1/stance", json={"text": "a" * 200_001})
        client.get("/v1/nothing")
    assert caplog.records, "client errors should still be logged (at INFO)"
    assert all(rec.levelno < logging.WARNING for rec in caplog.records), [
        (rec.levelname, rec.getMessage()) for rec in caplog.records
    ]
