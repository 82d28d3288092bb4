"""A gathered report written in any format: the page (html) from PageData, the rest by
pipeline/render/text.py. Given a plain Report, the page's remaining queries are gathered first."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import OrusageError
from pipeline.query.report import FORMATS, PageData, Report, gather_page
from pipeline.render import text as render_text


def render(data: Report | PageData, fmt: str, out: Path | None = None, console=None) -> None:
    """Write the report in `fmt` to `out` (a file) or to the console / stdout. The page (html)
    is rendered from PageData; given a Report, its remaining queries are gathered first."""
    if fmt not in FORMATS:
        raise OrusageError(f"unknown format {fmt!r}", f"Use one of: {', '.join(FORMATS)}.")
    if fmt == "html":
        from pipeline.render.html import to_html  # the page with charts (docs/html-report.md)

        page = data if isinstance(data, PageData) else gather_page(data.lake, data.options, report=data)
        render_text.write_text(to_html(page), out)
        return
    render_text.write(data.report if isinstance(data, PageData) else data, fmt, out, console)
