"""Scheduled operation: the run, checks, maintenance, settings and logs."""
