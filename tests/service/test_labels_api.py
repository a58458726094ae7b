"""POST/GET /v1/labels: storing corrections, duplicates and conflicts, errors, auth, an absent store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _api_fixtures import serve_fixture  # noqa: F401  (fixture)
from _postgres import postgres_server_fixture, postgres_url_fixture  # noqa: F401  (fixtures)

ONE = {"text": "Go Bernie!", "actor": "Bernie", "label": "positive", "annotator": "al"}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/labels.db"


def _statuses(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [item["status"] for item in r.json()["items"]]


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()["error"]


def test_single_and_batch_labels(serve, tiny_predictor, db):
    with serve(tiny_predictor, database_url=db) as c:
        r = c.post("/v1/labels", json=ONE)
        body = r.json()
        assert _statuses(r) == ["stored"]
        assert body["stored"] == 1 and body["duplicates"] == body["conflicts"] == 0
        first = body["items"][0]
        assert (first["actor"], first["label"], first["previous_label"]) == ("Bernie Sanders", "favor", None)
        assert len(body["batch_id"]) == 32 and first["label_id"] >= 1

        batch = {
            "annotator": "bo",
            "items": [
                {"text": "Go  Bernie!", "actor": "Bernie Sanders", "label": "favor"},
                {
                    "text": "Go Bernie!",
                    "actor": "Sanders",
                    "label": "against",
                    "annotator": "cy",
                    "corrected_prediction": {
                        "label": "favor",
                        "probabilities": {"against": 0.2, "neutral": 0.1, "favor": 0.7},
                        "model_version": "tiny-test 0",
                    },
                },
                {"text": "The DNC met.", "actor": "DNC", "label": "none", "source": "import"},
            ],
        }
        r = c.post("/v1/labels", json=batch)
        assert _statuses(r) == ["duplicate", "conflict", "stored"]
        dup, conflict, _ = r.json()["items"]
        assert dup["label_id"] == first["label_id"]
        assert (conflict["previous_label"], conflict["previous_label_id"]) == ("favor", first["label_id"])

        page = c.get("/v1/labels").json()
        assert page["total"] == 3 and (page["limit"], page["offset"]) == (100, 0)
        newest = page["items"][0]
        assert (newest["actor"], newest["label"], newest["source"], newest["annotator"]) == (
            "Democratic National Committee",
            "neutral",
            "import",
            "bo",
        )
        corr = page["items"][1]
        assert corr["annotator"] == "cy" and corr["model_version"] == "tiny-test 0" and corr["current"]
        assert corr["corrected_prediction"] == {
            "label": "favor",
            "probabilities": {"against": 0.2, "neutral": 0.1, "favor": 0.7},
        }
        assert page["items"][2]["current"] is False and page["items"][2]["text"] == "Go Bernie!"

        # Filters: actor aliases resolve; source, label, current; paging.
        assert c.get("/v1/labels", params={"actor": "bernie"}).json()["total"] == 2
        assert c.get("/v1/labels", params={"actor": "Bernie", "current": "true"}).json()["total"] == 1
        assert c.get("/v1/labels", params={"source": "import"}).json()["total"] == 1
        assert c.get("/v1/labels", params={"label": "pro"}).json()["total"] == 1
        page = c.get("/v1/labels", params={"order": "oldest", "limit": 1, "offset": 1}).json()
        assert page["total"] == 3 and [x["label"] for x in page["items"]] == ["against"]
        # The same text once, the same request again only duplicates.
        assert _statuses(c.post("/v1/labels", json=ONE)) == ["conflict"]  # current is 'against'
        assert _statuses(c.post("/v1/labels", json=ONE)) == ["duplicate"]


@pytest.mark.parametrize(
    "body, status, field, message",
    [
        ({"text": "Go Bernie!", "label": "favor"}, 422, "actor", "this field is required"),
        ({"text": "Go Bernie!", "actor": "Bernie", "label": "maybe"}, 422, "label", "unknown stance label"),
        ({"text": " ", "actor": "Bernie", "label": "favor"}, 422, "text", "text is empty"),
        ({"text": "x", "actor": "Bernie", "label": 3}, 422, "label", "valid string; found integer"),
        ({}, 422, None, "send either one label (text, actor, label) or 'items'"),
        ({**ONE, "items": [ONE]}, 422, None, "not both"),
        ({"items": []}, 422, "items", "items is an empty list"),
        (
            {"items": [ONE, {**ONE, "label": "sideways"}]},
            422,
            "items[1].label",
            "unknown stance label 'sideways'",
        ),
        ({"items": [{**ONE, "colour": "red"}]}, 422, "items[0].colour", "Extra inputs are not permitted"),
        ({**ONE, "source": "web"}, 422, "source", "Input should be 'correction' or 'import'"),
        (
            {**ONE, "corrected_prediction": {"label": "favor", "probabilities": {"favor": 2}}},
            422,
            "corrected_prediction.probabilities.favor",
            "must be a number from 0 to 1",
        ),
        ({"items": [ONE] * 5}, 413, "items", "5 items in one request; the limit is 4"),
        ({**ONE, "text": "x" * 301}, 413, "text", "text has 301 characters; the limit is 300"),
    ],
)
def test_invalid_requests_store_nothing(serve, tiny_predictor, db, body, status, field, message):
    with serve(tiny_predictor, database_url=db, max_items=4, max_text_chars=300) as c:
        err = _error(c.post("/v1/labels", json=body), status)
        assert message in err["message"] and err["field"] == field and err["fix"]
        assert set(err) == {"code", "message", "field", "fix"}
        assert c.get("/v1/labels").json()["total"] == 0


def test_a_cross_site_label_write_without_a_json_content_type_stores_nothing(serve, tiny_predictor, db):
    import json

    body = json.dumps(ONE).encode()
    # What a web page on another site can send without a CORS preflight (a "simple request").
    simple = [
        None,
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=----x",
    ]
    with serve(tiny_predictor, database_url=db) as c:
        for content_type in simple:
            headers = {"content-type": content_type} if content_type else {}
            r = c.post("/v1/labels", content=body, headers=headers | {"Origin": "https://evil.example"})
            err = _error(r, 415)
            assert err["code"] == "unsupported_media_type" and err["field"] == "Content-Type"
            assert err["fix"] == "send JSON with the header Content-Type: application/json"
        assert c.get("/v1/labels").json()["total"] == 0
        r = c.post("/v1/labels", content=body, headers={"content-type": "application/json"})
        assert _statuses(r) == ["stored"]


def test_bias_labels_have_a_task_and_no_actor(serve, tiny_predictor, db):
    article = "Senate passes the budget after a late-night vote."
    with serve(tiny_predictor, database_url=db) as c:
        r = c.post(
            "/v1/labels", json={"text": article, "task": "leaning", "label": "Left", "annotator": "al"}
        )
        assert _statuses(r) == ["stored"]
        item = r.json()["items"][0]
        assert (item["task"], item["actor"], item["label"]) == ("leaning", None, "left")
        batch = {
            "items": [
                {"text": article, "task": "leaning", "label": "center"},
                {"text": article, "task": "hyperpartisan", "label": "not_hyperpartisan"},
                {"text": article, "actor": "Senate", "label": "neutral"},
                {"text": "A loaded sentence.", "task": "loaded_language", "label": "biased"},
                {
                    "text": article,
                    "task": "hyperpartisan",
                    "label": "hyperpartisan",
                    "corrected_prediction": {
                        "label": "not_hyperpartisan",
                        "probabilities": {"hyperpartisan": 0.3},
                    },
                },
            ]
        }
        assert _statuses(c.post("/v1/labels", json=batch)) == [
            "conflict",
            "stored",
            "stored",
            "stored",
            "conflict",
        ]
        page = c.get("/v1/labels", params={"task": "leaning"}).json()
        assert page["total"] == 2 and {x["task"] for x in page["items"]} == {"leaning"}
        assert [x["current"] for x in page["items"]] == [True, False]
        assert c.get("/v1/labels", params={"task": "stance"}).json()["total"] == 1
        assert c.get("/v1/labels", params={"label": "left"}).json()["total"] == 1
        newest = c.get("/v1/labels", params={"task": "hyperpartisan", "current": "true"}).json()["items"][0]
        assert newest["corrected_prediction"] == {
            "label": "not_hyperpartisan",
            "probabilities": {"hyperpartisan": 0.3},
        }
        err = _error(c.get("/v1/labels", params={"task": "leaning", "label": "favor"}), 422)
        assert err["field"] == "label" and "unknown leaning label 'favor'" in err["message"]
        assert _error(c.get("/v1/labels", params={"task": "tone"}), 422)["field"] == "task"


@pytest.mark.parametrize(
    "body, field, message, fix",
    [
        (
            {"text": "An article.", "task": "leaning", "label": "favor"},
            "label",
            "unknown leaning label 'favor'; the leaning labels are left, center, right",
            "use one of left, center, right",
        ),
        (
            {"items": [{"text": "An article.", "task": "hyperpartisan", "label": "yes!"}]},
            "items[0].label",
            "the hyperpartisan labels are not_hyperpartisan, hyperpartisan",
            "use one of not_hyperpartisan, hyperpartisan",
        ),
        (
            {"text": "An article.", "task": "leaning", "actor": "DNC", "label": "left"},
            "actor",
            "a leaning label is about the whole text and takes no actor",
            "leave the actor (target) out",
        ),
        ({"text": "An article.", "task": "tone", "label": "left"}, "task", "Input should be 'stance'", ""),
        (
            {"items": [{"text": "An article.", "label": "left"}]},
            "items[0].actor",
            "a stance label needs the actor it is about",
            "give a bias task",
        ),
        ({"text": "An article.", "task": "leaning"}, "label", "this field is required", "no actor"),
    ],
)
def test_bias_label_errors_name_the_valid_labels(serve, tiny_predictor, db, body, field, message, fix):
    with serve(tiny_predictor, database_url=db) as c:
        err = _error(c.post("/v1/labels", json=body), 422)
        assert message in err["message"] and err["field"] == field and fix in (err["fix"] or "")
        assert c.get("/v1/labels").json()["total"] == 0


def test_list_validation(serve, tiny_predictor, db):
    with serve(tiny_predictor, database_url=db) as c:
        for params, field in [
            ({"limit": 0}, "limit"),
            ({"limit": 1001}, "limit"),
            ({"offset": -1}, "offset"),
            ({"source": "web"}, "source"),
            ({"order": "random"}, "order"),
            ({"label": "maybe"}, "label"),
            ({"actor": " "}, "actor"),
        ]:
            err = _error(c.get("/v1/labels", params=params), 422)
            assert err["code"] == "invalid_input" and err["field"] == field, (params, err)
        r = c.post("/v1/labels", content=b"{not json", headers={"content-type": "application/json"})
        assert _error(r, 422)["field"] == "body"


def test_api_keys_guard_the_labels_routes(serve, tiny_predictor, db):
    with serve(tiny_predictor, database_url=db, api_keys=["k"]) as c:
        assert _error(c.post("/v1/labels", json=ONE), 401)["code"] == "unauthorized"
        assert _error(c.get("/v1/labels"), 401)["code"] == "unauthorized"
        assert _error(c.post("/v1/labels", json=ONE, headers={"X-API-Key": "nope"}), 401)
        assert _statuses(c.post("/v1/labels", json=ONE, headers={"X-API-Key": "k"})) == ["stored"]
        assert c.get("/v1/labels", headers={"X-API-Key": "k"}).json()["total"] == 1
        spec = c.get("/openapi.json").json()
        assert spec["paths"]["/v1/labels"]["post"]["security"] == [{"APIKeyHeader": []}]
    with serve(tiny_predictor, database_url=db) as c:  # auth off: the same store, no key needed
        assert c.get("/v1/labels").json()["total"] == 1


def test_an_unavailable_store_fails_only_the_labels_routes(serve, tiny_predictor, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with serve(tiny_predictor, database_url=f"sqlite:///{blocker}/labels.db") as c:
        for r in (c.post("/v1/labels", json=ONE), c.get("/v1/labels")):
            err = _error(r, 503)
            assert err["code"] == "store_unavailable" and r.headers["Retry-After"] == "5"
            assert err["message"].startswith("the label store cannot be opened: cannot create the folder")
            assert "SLANT_DATABASE_URL" in err["fix"]
        # Invalid input is still reported as such, before the store is touched.
        assert _error(c.post("/v1/labels", json={**ONE, "label": "maybe"}), 422)["field"] == "label"
        assert c.post("/v1/stance", json={"text": "The DNC met.", "actors": ["DNC"]}).status_code == 200
        assert c.get("/readyz").status_code == 200
    with serve(tiny_predictor, database_url="postgresql://u:pw@127.0.0.1:1/labels") as c:
        err = _error(c.get("/v1/labels"), 503)
        assert "127.0.0.1:1" in err["message"] and "pw" not in err["message"]


def test_settings_check_the_database_url(monkeypatch):
    from pydantic import ValidationError

    from service.app import Settings

    monkeypatch.setenv("SLANT_DATABASE_URL", "postgresql://u:secret@db/labels")
    s = Settings()
    assert s.database_url == "postgresql://u:secret@db/labels" and "secret" not in repr(s)
    monkeypatch.setenv("SLANT_DATABASE_URL", "")
    assert Settings().database_url is None
    with pytest.raises(ValidationError, match="'mysql' is not supported"):
        Settings(database_url="mysql://u@h/db")


def test_labels_on_postgres(serve, tiny_predictor, postgres_url):
    with serve(tiny_predictor, database_url=postgres_url) as c:
        assert _statuses(c.post("/v1/labels", json=ONE)) == ["stored"]
        batch = {"items": [ONE, {**ONE, "label": "against"}, {**ONE, "actor": "DNC", "label": "con"}]}
        assert _statuses(c.post("/v1/labels", json=batch)) == ["duplicate", "conflict", "stored"]
        page = c.get("/v1/labels", params={"current": "true"}).json()
        assert page["total"] == 2
        # PostgreSQL refuses NUL characters in text: they are the caller's invalid input, never a 500.
        for bad in ({**ONE, "actor": "A\u0000B"}, {**ONE, "text": "x\u0000"}, {**ONE, "annotator": "\u0000"}):
            err = _error(c.post("/v1/labels", json=bad), 422)
            assert "NUL" in err["message"]
        assert _error(c.get("/v1/labels", params={"annotator": "a\x00"}), 422)["field"] == "annotator"
        assert {(x["actor"], x["label"]) for x in page["items"]} == {
            ("Bernie Sanders", "against"),
            ("Democratic National Committee", "against"),
        }
        # Bias labels: the longest label fits, and the task is part of what a duplicate is.
        bias = {"text": ONE["text"], "task": "hyperpartisan", "label": "not_hyperpartisan"}
        assert _statuses(c.post("/v1/labels", json=bias)) == ["stored"]
        assert _statuses(c.post("/v1/labels", json={**bias, "label": "false"})) == ["duplicate"]
        assert c.get("/v1/labels", params={"task": "hyperpartisan"}).json()["items"][0]["actor"] is None


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_client(request: pytest.FixtureRequest, tiny_predictor, tmp_path_factory):
    from _api_fixtures import serving

    if request.param == "sqlite":
        db = f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/labels.db"
    else:
        db = request.getfixturevalue("postgres_server").url()
    with serving(tiny_predictor, database_url=db) as c:
        yield c


@pytest.mark.parametrize(
    "method, mode", [("POST", "positive"), ("POST", "negative"), ("GET", "positive"), ("GET", "negative")]
)
def test_schema_fuzz_labels(fuzz_client, method, mode):
    """Generated requests (valid and invalid) never get a 5xx and every answer matches the schema,
    on both backends (PostgreSQL refuses NUL characters that SQLite would take)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_dict(fuzz_client.get("/openapi.json").json())
    operation = schema["/v1/labels"][method]
    seen: dict[int, int] = {}

    # Few generated "positive" label requests are valid, and which ones are generated shifts with
    # the string constants of the modules imported so far (Hypothesis mines them): 60 examples keep
    # at least one valid request in every test order.
    @settings(
        max_examples=60 if mode == "positive" else 30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    def run(case):
        response = fuzz_client.request(**case.as_transport_kwargs(base_url="http://testserver"))
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response, checks=checks)
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}

    run()
    assert all(status < 500 for status in seen), seen
    if mode == "positive":
        assert 200 in seen, seen
