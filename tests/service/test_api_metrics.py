"""/metrics stays bounded: labels hold route templates and known methods, never what a client made up."""

from __future__ import annotations

from _api_fixtures import serve_fixture  # noqa: F401  (fixtures)


def test_made_up_methods_and_paths_do_not_grow_metrics(serve, tiny_predictor):
    with serve(tiny_predictor, admin_keys=["adm"]) as c:
        for i in range(20):  # every real series first, so that what follows only adds made-up ones
            c.request(f"M{i:07d}", f"/x{i}")
        before = len(c.get("/metrics").content)
        statuses = set()
        for i in range(2000):
            statuses.add(c.request(f"M{i:07d}", f"/x{i}").status_code)
        c.get(f"/v1/jobs/{'a' * 16}", headers={"X-API-Key": "adm"})
        c.get("/v1/jobs/another-id", headers={"X-API-Key": "adm"})
        text = c.get("/metrics").text
    grown = len(text.encode()) - before
    print(f"/metrics grew by {grown} bytes over 2,000 made-up methods and paths")
    assert grown < 50_000, grown
    assert statuses == {404}
    assert 'slant_http_requests_total{method="other",route="other",status="404"} 2020.0' in text
    assert "M0000001" not in text and "/x1" not in text
    # A route with a parameter is counted under its template, not each id.
    assert 'slant_http_requests_total{method="GET",route="/v1/jobs/{job_id}",status="404"} 2.0' in text
    assert "another-id" not in text
