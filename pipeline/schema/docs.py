"""The generated parts of the docs.

    python -m pipeline.schema.docs                      prints docs/fields.md, from the field table
    python -m pipeline.schema.docs --update FILE.md     rewrites the generated blocks of FILE.md in place

A generated block of a Markdown file lies between `<!-- generated: NAME -->` and
`<!-- end generated: NAME -->`; BLOCKS names the function that writes each. `make docs` runs both;
tests fail when a committed file differs from what they would write.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

from pipeline.errors import OrusageError
from pipeline.schema import dimensions


def dimensions_block() -> str:
    """The bullet of docs/report.md that lists the report's dimensions (pipeline/schema/dimensions.py)."""
    listed = ", ".join(f"`{name}`" for name in dimensions.names())
    text = (
        f"- **Dimensions** (`--by`, 1 to {dimensions.MAX_DIMS}, comma-separated; `--where` filters on them): {listed}; "
        f"by default `{','.join(dimensions.default_names())}`; plus time with `--granularity`."
    )
    return "\n".join(textwrap.wrap(text, width=100, subsequent_indent="  ", break_on_hyphens=False, break_long_words=False))


BLOCKS = {"dimensions": dimensions_block}


def update_blocks(text: str) -> str:
    """`text` with every generated block rewritten."""
    for name, build in BLOCKS.items():
        start, end = f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"
        pattern = re.compile(re.escape(start) + r"\n.*?" + re.escape(end), re.DOTALL)
        text = pattern.sub(lambda _m, s=start, e=end, b=build: f"{s}\n{b()}\n{e}", text)
    return text


def main(argv: list[str]) -> None:
    if not argv:
        from pipeline.schema.table import render_markdown

        print(render_markdown(), end="")
        return
    if len(argv) != 2 or argv[0] != "--update":
        raise SystemExit(
            "Error: unknown arguments. Run `python -m pipeline.schema.docs` or `python -m pipeline.schema.docs --update FILE.md`."
        )
    path = Path(argv[1])
    if not path.is_file():
        raise OrusageError(f"no file {path}", "Give the Markdown file whose generated blocks to rewrite, e.g. docs/report.md.")
    path.write_text(update_blocks(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
