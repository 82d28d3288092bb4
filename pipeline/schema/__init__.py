"""The field table and everything generated from it (Arrow, DuckDB, pandera, docs)."""
