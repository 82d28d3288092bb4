"""`python -m pipeline` runs the `orusage` command line."""

from pipeline.cli.main import main

main(prog_name="orusage")
