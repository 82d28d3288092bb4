"""The HTML report in a real browser: Debian's headless Chromium, driven by playwright, opens the
pages from `file://` URLs. A test fails on any console error, page error or request other than
the page itself (and `data:` URLs); it checks that every chart drew, that the page fits a laptop's
window, that the tables sort, and saves a full-page screenshot as `report.png` in its temporary
directory. Chromium must be installed (`.ci/run` installs it); without it these tests FAIL."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from pipeline.cli.main import main

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 800}
CHARTS = (
    "spend-over-time",
    "spend-by-provider",
    "spend-by-region",
    "apps",
    "percentiles",
    "cache",
    "provider-health",
    "finish-mix",
)


def write_page(tmp: Path, name: str, *args) -> Path:
    out = tmp / f"{name}.html"
    result = CliRunner().invoke(main, ["report", *map(str, args), "--format", "html", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the HTML report's browser tests need Debian's chromium "
            "(`apt-get install -y chromium`; .ci/run installs it when missing)."
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev dependency of the lock
        pytest.fail("playwright is not installed: run `uv sync` (it is in the dev group).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def pages(report_sample_lake, tmp_path_factory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("html-pages")
    (tmp / "empty-lake").mkdir()
    return SimpleNamespace(
        sample=write_page(tmp, "sample", "--lake", report_sample_lake),
        empty_lake=write_page(tmp, "empty-lake", "--lake", tmp / "empty-lake"),
        empty_filter=write_page(tmp, "empty-filter", "--lake", report_sample_lake, "--where", "model=nope/none"),
    )


class Opened:
    """A page opened from disk, with every request, console error and page error it caused."""

    def __init__(self, browser, path: Path, viewport: dict | None = None):
        self.url = path.resolve().as_uri()
        self.context = browser.new_context(viewport=viewport or LAPTOP)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(self.url, wait_until="load")

    def check_clean(self) -> None:
        foreign = [u for u in self.requests if u != self.url and not u.startswith("data:")]
        assert not foreign, f"the page asked for {foreign}"
        assert not self.errors, f"console or page errors: {self.errors}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def opened(browser):
    pages = []

    def open_(path: Path) -> Opened:
        pages.append(Opened(browser, path))
        return pages[-1]

    yield open_
    for page in pages:
        page.close()


def test_sample_page_draws_every_chart_offline(opened, pages, tmp_path):
    text = pages.sample.read_text(encoding="utf-8")
    # the only addresses in the file are the SVG/XLink namespace names, which nothing fetches
    assert set(re.findall(r"https?://[^\s\"')<>]+", text)) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert "Content-Security-Policy" in text and len(text) < 600_000
    view = opened(pages.sample)
    drawn = view.page.evaluate(
        """() => Array.from(document.querySelectorAll("figure.chart")).map(f => {
            const svg = f.querySelector(".plot > svg");
            if (!svg) return {id: f.id, drawn: false};
            const box = svg.getBoundingClientRect();
            return {id: f.id, drawn: true, width: box.width, height: box.height, right: box.right,
                    marks: svg.querySelectorAll("g.role-mark > *").length};
        })"""
    )
    assert [d["id"] for d in drawn] == [f"chart-{key}" for key in CHARTS]
    for chart in drawn:
        assert chart["drawn"], f"{chart['id']} has no <svg>"
        assert chart["width"] > 250 and chart["height"] > 80, chart
        assert chart["marks"] > 0, f"{chart['id']} drew no marks"
        assert chart["right"] <= LAPTOP["width"], f"{chart['id']} is wider than a laptop's window"
    # eight SVGs in one document: no id is defined twice (clip paths would point at another chart)
    ids = view.page.evaluate("Array.from(document.querySelectorAll('[id]')).map(e => e.id)")
    assert len(ids) == len(set(ids))
    # readable at a laptop's width: nothing makes the page scroll sideways
    assert view.page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    # the headline: six cards with a value each
    values = view.page.locator(".headline .card .value").all_inner_texts()
    assert len(values) == 6 and values[0].startswith("$") and all(values)
    view.page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000
    # printable: Chromium lays it out on A4 pages
    pdf = view.page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) > 1
    view.check_clean()


def test_tables_sort_without_network(opened, pages):
    view = opened(pages.sample)
    table = view.page.locator("table.sortable").filter(has=view.page.locator("caption", has_text=re.compile(r"^by model$")))
    header = table.locator("thead th").filter(has_text=re.compile(r"^requests"))

    def column() -> list[float]:
        keys = table.evaluate("t => Array.from(t.tBodies[0].rows).map(r => r.cells[1].dataset.sort)")
        return [float(k) for k in keys if k]

    shown = column()
    assert len(shown) == 11  # the top 10 models and (other)
    header.click()
    assert column() == sorted(shown) and header.get_attribute("aria-sort") == "ascending"
    header.focus()
    view.page.keyboard.press("Enter")
    assert column() == sorted(shown, reverse=True) and header.get_attribute("aria-sort") == "descending"
    names = table.locator("thead th").first
    names.click()
    labels = table.evaluate("t => Array.from(t.tBodies[0].rows).map(r => r.cells[0].textContent)")
    assert names.get_attribute("aria-sort") == "ascending" and header.get_attribute("aria-sort") is None
    assert sorted(labels) != labels[::-1] and labels[0].lower() < labels[-1].lower()
    view.check_clean()


@pytest.mark.parametrize("width", [LAPTOP["width"], 900])
def test_wide_tables_scroll_with_the_label_column_held(browser, pages, width, tmp_path):
    view = Opened(browser, pages.sample, viewport={"width": width, "height": 800})
    try:
        # the widest table: it fits its box or scrolls sideways in it (at 900 px it must scroll)
        index = view.page.evaluate(
            """() => { const boxes = Array.from(document.querySelectorAll(".scroll"));
                const widths = boxes.map(b => b.scrollWidth);
                return widths.indexOf(Math.max(...widths)); }"""
        )
        box = view.page.locator(".scroll").nth(index)
        box.scroll_into_view_if_needed()
        state = box.evaluate(
            """box => {
                const table = box.querySelector("table"), first = table.tHead.rows[0].cells[0];
                const cells = Array.from(table.tBodies[0].rows).map(r => r.cells[0]);
                const before = {scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
                                overflowX: getComputedStyle(box).overflowX,
                                positions: [first, ...cells].map(c => getComputedStyle(c).position)};
                box.scrollLeft = box.scrollWidth;
                const frame = box.getBoundingClientRect();
                const heads = table.tHead.rows[0].cells, last = heads[heads.length - 1].getBoundingClientRect();
                const label = first.getBoundingClientRect();
                const x = (last.left + last.right) / 2, y = (last.top + last.bottom) / 2;
                const hit = document.elementFromPoint(x, y);
                return {...before, scrollLeft: box.scrollLeft, frame: [frame.left, frame.right],
                        last: [last.left, last.right], label: [label.left, label.right],
                        lastShown: hit === heads[heads.length - 1] || heads[heads.length - 1].contains(hit),
                        cellLefts: cells.map(c => c.getBoundingClientRect().left)};
            }"""
        )
        assert state["overflowX"] == "auto"
        if width < LAPTOP["width"] or state["scrollWidth"] > state["clientWidth"]:
            assert state["scrollWidth"] > state["clientWidth"] and state["scrollLeft"] > 0, state
        # the label column is sticky and stays at the box's left edge when the box scrolls
        assert set(state["positions"]) == {"sticky"}, state["positions"]
        assert abs(state["label"][0] - state["frame"][0]) < 1
        assert all(abs(left - state["frame"][0]) < 1 for left in state["cellLefts"])
        # scrolled to the end, the last column is inside the box, beside the label column, on top
        assert state["last"][1] <= state["frame"][1] + 1 and state["last"][0] >= state["label"][1] - 1, state
        assert state["lastShown"], state
        assert view.page.evaluate("document.documentElement.scrollWidth") <= width
        view.page.screenshot(path=str(tmp_path / "table.png"))
        view.check_clean()
    finally:
        view.close()


@pytest.mark.parametrize("which", ["empty_lake", "empty_filter"])
def test_empty_pages_say_so(opened, pages, which, tmp_path):
    view = opened(getattr(pages, which))
    message = view.page.locator("#empty-message")
    assert message.is_visible()
    expected = "holds no generations yet" if which == "empty_lake" else "No generation in"
    assert expected in message.inner_text()
    assert view.page.locator("figure.chart").count() == 0
    view.page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    view.check_clean()
