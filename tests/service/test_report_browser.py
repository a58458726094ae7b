"""The `slant report` page opened from a file in a real headless Chromium, with no network.

Needs Debian's ``chromium`` and the ``playwright`` package (the system browser is launched; no
browser is downloaded); skips and says why without either. The screenshot is kept under
pytest's temporary folder and checked for the figures' colours.
"""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from service.cli import app
from training.report.synthetic import ACTORS, write_synthetic

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium (Debian's package)"
)
# The figures' stance colours (training/report/figures.py): against, favor.
AGAINST, FAVOR = (0xC0, 0x39, 0x2B), (0x24, 0x71, 0xA3)


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(pixel[:3], colour, strict=True))


def test_report_page_in_a_browser_from_a_file(tmp_path):
    pil = pytest.importorskip("PIL.Image", reason="Pillow is not installed: pip install -e '.[dev]'")
    src = write_synthetic(tmp_path / "labelled.jsonl", 400, seed=2, bias=True)
    out = tmp_path / "report"
    args = ["report", str(src), "-o", str(out), "--by", "source", "--time", "date", "--freq", "M"]
    result = CliRunner().invoke(app, [*args, "--no-progress", "--bootstrap", "200"])
    assert result.exit_code == 0, result.output

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
            ],
        )
        context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
        page = context.new_page()
        problems: list[str] = []
        requested: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("requestfailed", lambda req: problems.append(f"failed: {req.url}"))
        page.on("request", lambda req: requested.append(req.url))
        page.set_default_timeout(15_000)
        page.goto((out / "index.html").as_uri())
        page.wait_for_load_state("load")

        # One stance figure per actor (and one over-time figure each), every image decoded.
        sections = page.locator("section.actor")
        assert sorted(sections.evaluate_all("els => els.map(e => e.dataset.actor)")) == sorted(ACTORS)
        assert page.locator("figure.actor-figure img").count() == len(ACTORS)
        assert page.locator("figure.time-figure img").count() == len(ACTORS)
        widths = page.locator("figure img").evaluate_all(
            "imgs => imgs.map(i => i.complete && i.naturalWidth)"
        )
        assert len(widths) == 2 * len(ACTORS) + 1 and all(w and w > 300 for w in widths), widths
        assert page.locator("#bias figure img").count() == 1
        assert page.locator("#calibration").is_visible()
        assert "%" in page.inner_text("#low-margin")
        # Nothing but the file itself and its embedded data: no CDN, no other file.
        assert [u for u in requested if not u.startswith(("file:", "data:"))] == []
        assert not problems, problems

        # Hover: a row's tooltip has its evidence with article ids; click: the list opens.
        row = page.locator("section.actor").first.locator("tr.cell").first
        tooltip = row.get_attribute("title") or ""
        assert tooltip.startswith("[a") and "Sentence" in tooltip
        details = row.locator("details")
        assert not details.locator(".ev").first.is_visible()
        details.locator("summary").click()
        first = details.locator(".ev").first
        assert first.is_visible() and first.locator(".id").inner_text().startswith("a")
        assert details.locator(".ev").count() == 3

        figure = page.locator("figure.actor-figure img").first
        figure.scroll_into_view_if_needed()
        box = figure.bounding_box()
        assert box is not None
        shot = tmp_path / "report-page.png"
        page.screenshot(path=str(shot))
        browser.close()

    image = pil.open(shot).convert("RGB")
    crop = image.crop(
        (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
    )
    pixels = list(crop.getdata())
    assert sum(near(p, AGAINST) for p in pixels) > 50, "no against (red) marks in the figure"
    assert sum(near(p, FAVOR) for p in pixels) > 50, "no favor (blue) marks in the figure"
    assert len(set(pixels)) > 50, "the figure area is blank"
