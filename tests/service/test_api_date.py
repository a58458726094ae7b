"""POST /v1/stance with `date`: per item or for the request; a bad one is a 422 that names it."""

from __future__ import annotations

from _api_fixtures import client_fixture  # noqa: F401  (fixtures)

SPEAKER = "The Speaker said the budget would pass the House before the recess."


def _ryan(item: dict) -> dict:
    (ryan,) = item["actors"]
    assert ryan["actor"] == "Paul Ryan"
    return ryan


def test_the_date_decides_who_a_time_bound_title_means(client):
    body = {
        "items": [
            {"id": "in", "text": SPEAKER, "date": "2016-07-25"},
            {"id": "out", "text": SPEAKER, "date": 2020},
            {"id": "shared", "text": SPEAKER},
        ],
        "actors": ["Paul Ryan"],
        "date": "2017",
    }
    r = client.post("/v1/stance", json=body)
    assert r.status_code == 200, r.text
    inside, outside, shared = (_ryan(i) for i in r.json()["items"])
    assert inside["status"] == "scored" and inside["mentions_via"]["title"] == 1
    assert [e["via"] for e in inside["evidence"]] == ["title"]
    assert outside["status"] == "not_mentioned" and outside["mentions"] == 0
    assert shared["status"] == "scored" and shared["mentions_via"]["title"] == 1  # the request's date
    r = client.post("/v1/stance", json={"text": SPEAKER, "actors": ["Paul Ryan"]})
    assert _ryan(r.json()["items"][0])["status"] == "not_mentioned"  # no date, no year in the text
    r = client.post(
        "/v1/stance", json={"text": SPEAKER, "actors": ["Paul Ryan"], "date": "2018-12-31T23:00:00Z"}
    )
    assert _ryan(r.json()["items"][0])["mentions_via"]["title"] == 1


def test_a_bad_date_is_a_422_naming_it(client):
    for body, field, found in [
        ({"text": SPEAKER, "date": "yesterday"}, "date", "'yesterday' is not a date"),
        (
            {"items": [{"text": SPEAKER}, {"text": SPEAKER, "date": "2016-13-40"}]},
            "items[1].date",
            "'2016-13-40'",
        ),
        ({"text": SPEAKER, "date": 1850}, "date", "1850 is outside the years 1900..2100"),
    ]:
        r = client.post("/v1/stance", json=body)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "invalid_input" and err["field"] == field, err
        assert found in err["message"] and "ISO date" in err["fix"], err
    r = client.post("/v1/stance", json={"text": SPEAKER, "date": True})  # not a year: refused by the schema
    assert r.status_code == 422 and r.json()["error"]["field"] == "date", r.text


def test_the_schema_documents_date(client):
    props = client.get("/openapi.json").json()["components"]["schemas"]["StanceItem"]["properties"]
    assert "2016-07-25" in props["date"]["description"]
    kinds = [s.get("type") for s in props["date"]["anyOf"]]
    assert kinds[:2] == ["string", "integer"]
