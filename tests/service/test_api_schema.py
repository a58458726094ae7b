"""Property-based: requests generated from the app's own OpenAPI schema (schemathesis), and raw
bytes and arbitrary JSON (hypothesis), never get a 5xx, and every answer matches the schema.

The app serves the tiny model with all three bias heads, so /v1/analyze answers carry every
field of `bias` and the schema check covers them.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from _api_fixtures import bias_client_fixture  # noqa: F401  (fixtures)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BOUNDED = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def client(bias_client):
    return bias_client


@pytest.fixture(scope="module")
def schema(client):
    return schemathesis.openapi.from_dict(client.get("/openapi.json").json())


@pytest.mark.parametrize(
    "path, method, mode",
    [
        ("/v1/stance", "POST", GenerationMode.POSITIVE),
        ("/v1/stance", "POST", GenerationMode.NEGATIVE),
        ("/v1/analyze", "POST", GenerationMode.POSITIVE),
        ("/v1/analyze", "POST", GenerationMode.NEGATIVE),
        ("/v1/models", "GET", GenerationMode.POSITIVE),
        ("/healthz", "GET", GenerationMode.POSITIVE),
        ("/readyz", "GET", GenerationMode.POSITIVE),
        ("/metrics", "GET", GenerationMode.POSITIVE),
    ],
)  # the GET routes take no parameters, so they have no negative cases
def test_schema_fuzz(client, schema, path, method, mode):
    operation = schema[path][method]
    seen: dict[int, int] = {}

    @BOUNDED
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = client.request(**case.as_transport_kwargs(base_url="http://testserver"))
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}

    run()
    print(path, mode, seen)
    assert all(status < 500 for status in seen)
    if path in ("/v1/stance", "/v1/analyze") and mode is GenerationMode.POSITIVE:
        assert 200 in seen, seen  # the generator does reach the model, not just the validators


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "text",
                    "items",
                    "actors",
                    "id",
                    "name",
                    "aliases",
                    "evidence",
                    "score_unmentioned",
                    "discover_limit",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@BOUNDED
@given(
    body=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(["application/json", "text/plain", None, "application/octet-stream"]),
    route=st.sampled_from(["/v1/stance", "/v1/analyze"]),
)
def test_any_body_gets_an_answer_in_the_error_format_or_a_result(client, body, content_type, route):
    headers = {"content-type": content_type} if content_type else {}
    r = client.post(route, content=body, headers=headers)
    assert r.status_code in (200, 413, 415, 422), r.text
    if content_type != "application/json":
        assert r.status_code == 415, r.text
    payload = r.json()
    if r.status_code == 200:
        assert set(payload) == {"model", "version", "items"}
    else:
        assert set(payload["error"]) == {"code", "message", "field", "fix"}


def test_the_schema_states_the_constraints_the_server_checks(client):
    """Each rule the server enforces on a request field is in the OpenAPI document, so a client (or a
    fuzzer) built from the schema neither sends what is refused nor expects what is not accepted."""
    import re

    spec = client.get("/openapi.json").json()
    defs = spec["components"]["schemas"]
    text_pattern = defs["StanceRequest"]["properties"]["text"]["pattern"]
    # Blank is Python's whitespace (\x1c-\x1f, \x85 included); NUL characters are refused.
    for blank in ["\x1e", " \x85\u3000", "a\x00b"]:
        assert not re.search(text_pattern, blank)
        r = client.post("/v1/stance", json={"text": blank})
        assert r.status_code == 422, (blank, r.text)
    assert re.search(text_pattern, "\x1eSanders spoke.\n")

    # Integer ids: within ±(2^53 - 1), exactly what every JSON parser reads.
    id_schema = defs["StanceItem"]["properties"]["id"]["anyOf"][1]
    assert (id_schema["minimum"], id_schema["maximum"]) == (-(2**53 - 1), 2**53 - 1)
    r = client.post("/v1/stance", json={"items": [{"id": 2**53 - 1, "text": "The DNC met."}]})
    assert r.status_code == 200 and r.json()["items"][0]["id"] == 2**53 - 1
    for big in (2**53, 2**63, -(2**63)):
        r = client.post("/v1/stance", json={"items": [{"id": big, "text": "The DNC met."}]})
        assert r.status_code == 422 and r.json()["error"]["field"] == "items[0].id", r.text

    # Booleans are JSON booleans, not 0, 1 or "true".
    for wrong in (1, 0, "true"):
        r = client.post("/v1/stance", json={"text": "The DNC met.", "score_unmentioned": wrong})
        assert r.status_code == 422 and r.json()["error"]["field"] == "score_unmentioned", r.text
    retrain = defs["RetrainRequest"]["properties"]
    assert retrain["refit_aggregator"]["type"] == "boolean"

    # The label filters: an empty actor is refused, and the schema says so.
    params = {p["name"]: p["schema"] for p in spec["paths"]["/v1/labels"]["get"]["parameters"]}
    assert params["actor"]["minLength"] == 1 and params["label"]["minLength"] == 1
    assert client.get("/v1/labels", params={"actor": ""}).status_code == 422
