"""Developer tools (sample data, benchmarks); not part of the installed package."""
