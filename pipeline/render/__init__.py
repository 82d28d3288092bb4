"""Data in, text out: terminal tables, Markdown, JSON/CSV/Parquet, the HTML page."""
