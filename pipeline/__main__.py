"""`python -m pipeline` runs the `orusage` command line."""

from pipeline.cli import main

main(prog_name="orusage")
