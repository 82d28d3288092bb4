"""Input files -> chunks of raw lines: JSON lines (plain, gzip, zstd) and the dashboard's CSV."""
