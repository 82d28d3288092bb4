"""Logs of the scheduled commands: readable lines in a terminal, JSON lines under cron.

structlog renders one event per line on stderr (stdout stays free for data such as
`orusage check --json`). Format `auto` picks the console renderer when stderr is a terminal and
JSON otherwise, so a crontab or a systemd unit gets machine-readable lines without a flag. Every
event carries `timestamp` (UTC, ISO 8601), `level` and `event`; `orusage run` ends with exactly
one `run_summary` event. Tests read the events with `structlog.testing.capture_logs()`.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def resolve_format(fmt: str, stream: TextIO) -> str:
    """`auto` -> `console` on a terminal, else `json`."""
    if fmt != "auto":
        return fmt
    try:
        return "console" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> str:
    """Set up structlog for this process; returns the format chosen (`console` or `json`)."""
    stream = stream if stream is not None else sys.stderr
    chosen = resolve_format(fmt, stream)
    renderer = (
        structlog.dev.ConsoleRenderer(colors=_colors(stream), sort_keys=False)
        if chosen == "console"
        else structlog.processors.JSONRenderer(default=str, sort_keys=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _head_first,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    return chosen


def _head_first(_logger, _method, event: dict) -> dict:
    """`timestamp`, `level`, `event` first in each JSON line, then the event's own keys."""
    head = {k: event.pop(k) for k in ("timestamp", "level", "event") if k in event}
    return {**head, **event}


def _colors(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def get_logger(**context):
    return structlog.get_logger(**context)
