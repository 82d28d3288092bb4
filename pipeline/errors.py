"""Typed errors that keep their inputs; the CLI turns them into one-line messages and exit codes."""

from __future__ import annotations

# Exit codes shared by every command (documented in `orusage --help` and the README).
EXIT_OK = 0
# 1: could not proceed (one `Error:` line; a write that fails leaves the lake as it was), or a
# run quarantined more than max_quarantine_ratio of the rows it read (its good rows are kept).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: another writer holds the lake lock; retry later


EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2
EXIT_TERMINATED = 143  # SIGTERM (a scheduler's stop, `kill`): 128 + 15
_SIGNALS = {2: ("interrupted (Ctrl-C)", EXIT_INTERRUPTED), 15: ("terminated (SIGTERM)", EXIT_TERMINATED)}
_received: list[int] = []  # the stop signals this process received, in order


class Terminated(BaseException):
    """SIGTERM arrived; raised in the main thread so that a run cleans up as for Ctrl-C."""


def note_signal(signum: int) -> None:
    """Remember that a stop signal arrived (see `interruption`)."""
    _received.append(signum)


def interruption(exc: BaseException) -> tuple[str, int] | None:
    """(what happened, exit code) when `exc` ends a run stopped by Ctrl-C or SIGTERM, else None.

    Besides KeyboardInterrupt and Terminated themselves, any error raised after a stop signal
    arrived counts: a library that catches the signal (DuckDB turns it into "Query
    interrupted") must not make a stop look like a failure."""
    if isinstance(exc, KeyboardInterrupt):
        return _SIGNALS[2]
    if isinstance(exc, Terminated):
        return _SIGNALS[15]
    if _received:
        return _SIGNALS.get(_received[0])
    return None


class OrusageError(Exception):
    """An error a user can act on: `what` happened, `fix` says how to fix it."""

    exit_code = EXIT_FAILED

    def __init__(self, what: str, fix: str):
        super().__init__(what)
        self.what = what.rstrip(".")
        self.fix = fix

    def message(self) -> str:
        return f"Error: {self.what}. {self.fix}".rstrip()


class OptionError(OrusageError):
    """A bad option or argument value: a usage error (exit 2). The message names the option."""

    exit_code = EXIT_USAGE


class InputError(OrusageError):
    """An input file cannot be used (missing, unsupported, unreadable, corrupt)."""

    def __init__(self, path: str, what: str, fix: str):
        super().__init__(f"{path}: {what}", fix)
        self.path = path


class LakeError(OrusageError):
    """The lake cannot be written (disk full, permissions, a broken layout)."""


class LockHeld(OrusageError):
    exit_code = EXIT_LOCKED

    def __init__(self, pid: int | None, started: str | None):
        who = f"pid {pid if pid is not None else '?'}, started {started or '?'}"
        super().__init__(
            f"another run ({who}) holds the lake lock",
            "Retry later, or pass --wait SECONDS to wait for it.",
        )
        self.pid = pid
        self.started = started


# --- scheduled operation (run, check, compact, prune, quarantine replay) ----------------------
EXIT_ALERT = 3  # `orusage check` / `orusage run`: a budget is exceeded or an anomaly was found


class ConfigError(OrusageError):
    """A configuration file, environment variable or flag holds an unknown key or a bad value."""

    exit_code = EXIT_USAGE

    def __init__(self, key: str, what: str, fix: str, source: str | None = None):
        where = f" (in {source})" if source else ""
        super().__init__(f"setting {key}{where}: {what}", fix)
        self.key = key
        self.source = source


# The share of a run's rows that may be quarantined before `ingest` and `run` exit 1.
DEFAULT_MAX_QUARANTINE_RATIO = 0.05


class QuarantineRatioExceeded(OrusageError):
    """A run kept its good rows, but quarantined a larger share than the configured maximum."""


# Appended for `orusage reconcile` / `orusage collect` (pipeline/cli/openrouter.py).
EXIT_MISMATCH = 4  # reconcile: the lake and OpenRouter's numbers differ beyond tolerance
EXIT_INCOMPLETE = 5  # collect: some ids never came (run it again later: it resumes)
