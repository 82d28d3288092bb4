"""`python -m pipeline.docs` prints docs/fields.md, generated from the field table."""

from pipeline.schema import render_markdown


def main() -> None:
    print(render_markdown(), end="")


if __name__ == "__main__":
    main()
