"""The review page in a real headless Chromium against a real uvicorn server (tiny model, SQLite).

Needs Debian's ``chromium`` and the ``playwright`` package (the system browser is launched; no
browser is downloaded); skips and says why without either.
"""

from __future__ import annotations

import shutil
from typing import Any

import httpx
import pytest
from _api_fixtures import settings, uvicorn_server

from service.app import create_app
from training.store import LabelStore, new_label

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium (Debian's package)"
)

KEY = "k-review"
ACTORS = ["Bernie Sanders", "Democratic National Committee"]
SEEDED = [
    ("The DNC said it will stay neutral in the primary.", "DNC", "neutral"),
    ("Bernie Sanders drew a huge crowd in Iowa on Saturday.", "Bernie Sanders", "favor"),
]


def test_review_page_in_a_browser(tiny_predictor, article, tmp_path):
    pil = pytest.importorskip("PIL.Image", reason="Pillow is not installed: pip install -e '.[dev]'")
    db = f"sqlite:///{tmp_path}/labels.db"
    with LabelStore.open(db) as store:
        store.add([new_label(text=t, actor=a, label=lab, source="import") for t, a, lab in SEEDED])
    # A character outside the BMP before the evidence: the API counts code points, JavaScript
    # counts UTF-16 units, and a highlight one character off would show here.
    text = "\U0001f4f0 " + article
    expected = tiny_predictor.predict([text], ACTORS, evidence=3)[0]
    app = create_app(settings(database_url=db, api_keys=[KEY], max_text_chars=5000), predictor=tiny_predictor)

    with uvicorn_server(app) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        page.set_default_timeout(15_000)
        expect = sync_api.expect  # waits; the page's CSP forbids wait_for_function's string eval
        page.goto(base + "/")
        page.wait_for_selector("#model-status.ready")
        assert page.inner_text("#model-status") == "tiny-test 0 · ready"

        # Without the key: the API's error, message and fix, is shown.
        page.fill("#text", text)
        page.fill("#actors", "Bernie Sanders, DNC")
        page.click("#analyse")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error-message") == (
            "this server needs an API key in the X-API-Key header (X-API-Key)"
        )
        assert page.inner_text("#error-fix") == "send the header X-API-Key: <your key>"
        page.fill("#api-key", KEY)
        assert page.evaluate("sessionStorage.getItem('slant.apiKey')") == KEY

        # Too long a text: the server's 413 with its fix.
        page.fill("#text", "x " * 3000)
        page.click("#analyse")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error-message") == "text has 6,000 characters; the limit is 5,000 (text)"
        assert page.inner_text("#error-fix")

        # Analyse: a card per actor, the evidence highlighted at the right offsets.
        page.fill("#text", text)
        page.click("#analyse")
        page.wait_for_selector(".card >> nth=1")
        assert page.is_hidden("#error")
        assert page.is_hidden("#bias")  # this model has no bias heads
        assert page.locator(".card .name").all_inner_texts() == ACTORS
        assert page.evaluate("document.getElementById('article').textContent") == text  # nothing lost
        spans = [(ev.start, ev.end) for r in expected for ev in r.evidence]
        marks = page.locator("#article mark")
        mark_texts = marks.all_text_contents()
        for ai, r in enumerate(expected):
            assert page.locator(f".card[data-actor='{ai}'] .badge").text_content() == r.label
            for ei, ev in enumerate(r.evidence):
                pieces = page.locator(f"#article mark[data-evidence~='{ai}-{ei}']").all_text_contents()
                assert "".join(pieces) == ev.text
                if sum(s < ev.end and ev.start < e for s, e in spans) == 1:  # overlaps nothing else
                    assert ev.text in mark_texts
        if len(set(spans)) < len(spans):
            assert page.locator("#article mark.overlap").count() >= 1

        # One-click correction: stored, then a duplicate; the label is in the store.
        first = expected[0]
        assert first.label is not None and first.probabilities is not None
        fix_to = next(label for label in ("against", "neutral", "favor") if label != first.label)
        card = page.locator(".card[data-actor='0']")
        card.locator(f"button[data-label='{fix_to}']").click()
        expect(card.locator(".outcome")).to_have_text(f"stored: {fix_to}")
        card.locator(f"button[data-label='{fix_to}']").click()
        expect(card.locator(".outcome")).to_have_text(f"duplicate: {fix_to} is already the label")
        stored = httpx.get(
            f"{base}/v1/labels",
            params={"actor": ACTORS[0], "source": "correction"},
            headers={"X-API-Key": KEY},
        ).json()
        assert stored["total"] == 1
        label = stored["items"][0]
        assert (label["text"], label["label"], label["model_version"]) == (text, fix_to, "tiny-test 0")
        assert label["corrected_prediction"]["label"] == first.label
        assert label["corrected_prediction"]["probabilities"] == pytest.approx(first.probabilities)

        # The queue: the seeded texts and the corrected article, most uncertain first.
        page.click("#queue-load")
        page.wait_for_selector("#queue-body tr")
        rows = page.locator("#queue-body tr")
        assert rows.count() == 3
        uncertainties = [float(u) for u in page.locator("#queue-body .unc > span").all_inner_texts()]
        assert uncertainties == sorted(uncertainties, reverse=True)
        assert "predicted now" in page.inner_text("#queue-status")
        seeded_row = rows.filter(has_text=SEEDED[0][0])
        assert seeded_row.count() == 1 and "Democratic National Committee" in seeded_row.inner_text()

        shot = tmp_path / "review.png"
        page.screenshot(path=str(shot), full_page=True)

        # Clicking an item loads it into the analyser and analyses it.
        seeded_row.click()
        expect(page.locator(".card")).to_have_count(1)
        expect(page.locator(".card .name")).to_have_text("Democratic National Committee")
        assert page.input_value("#text") == SEEDED[0][0]
        assert page.input_value("#actors") == "Democratic National Committee"
        browser.close()
    assert problems == []

    image = pil.open(shot).convert("RGB")
    width, height = image.size
    assert width == 1280 and height >= 900
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, "the screenshot looks blank"
    assert image.getpixel((4, 4)) == (0x1F, 0x2D, 0x3D)  # the header bar was drawn
    print(f"screenshot: {shot} ({width}x{height}, {len(colours)} colours)")


def _with_threshold(predictor: Any, text: str) -> Any:
    """The tiny bias predictor with a loaded-language threshold that flags the sentences of ``text``
    with the four highest scores (its random head flags almost every sentence at 0.5), and an AGPL
    licence on that head, so the page shows the licence notice."""
    import copy
    import dataclasses

    head = predictor.heads["loaded_language"]
    everything = copy.copy(predictor)
    everything.heads = {**predictor.heads, "loaded_language": dataclasses.replace(head, threshold=0.0)}
    [a] = everything.analyze([text], ACTORS)
    scores = sorted({s.probability for s in a.bias.loaded_language.sentences}, reverse=True)
    threshold = round(scores[min(3, len(scores) - 1)] - 5e-4, 4)
    out = copy.copy(predictor)
    agpl = dataclasses.replace(head, threshold=threshold, licence="AGPL-3.0 (test data)")
    out.heads = {**predictor.heads, "loaded_language": agpl}
    return out


def test_bias_panel_in_a_browser(tiny_bias_predictor, article, tmp_path):
    """Leaning bars, the hyperpartisan score, loaded-language sentences highlighted apart from the
    stance evidence, and one-click leaning and hyperpartisan corrections posted to /v1/labels."""
    pil = pytest.importorskip("PIL.Image", reason="Pillow is not installed: pip install -e '.[dev]'")
    db = f"sqlite:///{tmp_path}/labels.db"
    # Offsets count code points and JavaScript UTF-16 units: the emoji checks the conversion. The
    # article's filler (one sentence repeated) is kept once, so the flagged sentences stay few.
    filler = "Voters in the state have heard many speeches this year. "
    text = "\U0001f4f0 " + article.replace(filler, "").replace("neutral. ", "neutral. " + filler, 1)
    assert text.count(filler) == 1
    predictor = _with_threshold(tiny_bias_predictor, text)
    [expected] = predictor.analyze([text], ACTORS, evidence=3)
    bias = expected.bias
    assert bias is not None and bias.leaning is not None and bias.hyperpartisan is not None
    loaded = bias.loaded_language
    assert loaded is not None and 0 < len(loaded.sentences) < loaded.scored
    app = create_app(settings(database_url=db, max_text_chars=5000), predictor=predictor)

    with uvicorn_server(app) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        page.set_default_timeout(15_000)
        expect = sync_api.expect
        page.goto(base + "/")
        page.wait_for_selector("#model-status.ready")
        page.fill("#text", text)
        page.fill("#actors", "Bernie Sanders, DNC")
        page.click("#analyse")
        page.wait_for_selector("#bias:not([hidden])")
        assert page.is_hidden("#error")
        assert page.evaluate("document.getElementById('article').textContent") == text  # nothing lost

        # Leaning: the label and a bar per label.
        lean = page.locator("#bias .leaning")
        assert lean.locator(".badge").inner_text().lower() == bias.leaning.label
        assert lean.locator(".bars .pct").all_inner_texts() == [
            f"{round(p * 100)}%" for p in bias.leaning.probabilities.values()
        ]
        # Hyperpartisan: the score.
        hyper = page.locator("#bias .hyper")
        assert hyper.locator(".pct").inner_text() == f"{round(bias.hyperpartisan * 100)}%"
        # Loaded language: the flagged sentences, listed and marked at the right offsets.
        part = page.locator("#bias .loaded-language")
        assert f"{len(loaded.sentences)} of {loaded.scored} sentences" in part.inner_text()
        assert part.locator("li").count() == len(loaded.sentences)
        assert page.is_visible("#legend-loaded")
        for li, s in enumerate(loaded.sentences):
            pieces = page.locator(f"#article mark[data-loaded~='l{li}']").all_text_contents()
            assert "".join(pieces) == s.text
        flagged = {(s.start, s.end) for s in loaded.sentences}
        evidence = [ev for r in expected.stance for ev in r.evidence]
        for ai, r in enumerate(expected.stance):  # evidence marks are unchanged
            for ei, ev in enumerate(r.evidence):
                pieces = page.locator(f"#article mark[data-evidence~='{ai}-{ei}']").all_text_contents()
                assert "".join(pieces) == ev.text
        marked = "".join(page.locator("#article mark.loaded").all_text_contents())
        assert len(marked) == sum(len(s.text) for s in loaded.sentences)
        # Loaded and evidence spans overlap: both styles on one mark; loaded alone: its own style.
        both = [ev for ev in evidence if any(a < ev.end and ev.start < b for a, b in flagged)]
        if both:
            assert page.locator("#article mark.loaded:not(.bare)").count() >= 1
        if any(not any(ev.start < b and a < ev.end for ev in evidence) for a, b in flagged):
            assert page.locator("#article mark.loaded.bare").count() >= 1

        # The AGPL head's notice (GET /v1/models) is shown at the foot of the page.
        expect(page.locator("#notices")).to_be_visible()
        notice = page.inner_text("#notices")
        assert "AGPL-3.0" in notice and "Section 13" in notice and "SLANT_SOURCE_URL" in notice

        shot = tmp_path / "review-bias.png"
        page.screenshot(path=str(shot), full_page=True)

        # One-click corrections: leaning and hyperpartisan labels of the whole text.
        fix_lean = next(lab for lab in bias.leaning.probabilities if lab != bias.leaning.label)
        lean.locator(f"button[data-label='{fix_lean}']").click()
        expect(lean.locator(".outcome")).to_have_text(f"stored: {fix_lean}")
        predicted_hyper = "hyperpartisan" if bias.hyperpartisan >= 0.5 else "not_hyperpartisan"
        fix_hyper = "not_hyperpartisan" if predicted_hyper == "hyperpartisan" else "hyperpartisan"
        hyper.locator(f"button[data-label='{fix_hyper}']").click()
        expect(hyper.locator(".outcome")).to_have_text(f"stored: {fix_hyper}")
        hyper.locator(f"button[data-label='{fix_hyper}']").click()
        expect(hyper.locator(".outcome")).to_have_text(f"duplicate: {fix_hyper} is already the label")
        browser.close()
    assert problems == []

    image = pil.open(shot).convert("RGB")
    width, height = image.size
    assert width == 1280 and height >= 900
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, "the screenshot looks blank"
    print(f"screenshot: {shot} ({width}x{height}, {len(colours)} colours)")
