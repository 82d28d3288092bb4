"""Typed errors that keep their inputs; the CLI turns them into one-line messages and exit codes."""

from __future__ import annotations

# Exit codes shared by every command (documented in `orusage --help` and the README).
EXIT_OK = 0
EXIT_FAILED = 1  # the run could not proceed; nothing was changed
EXIT_USAGE = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: another writer holds the lake lock; retry later


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


class QuarantineRatioExceeded(OrusageError):
    """A run kept its good rows, but quarantined a larger share than the configured maximum."""


# Appended for `orusage reconcile` / `orusage collect` (pipeline/integrations_cli.py).
EXIT_MISMATCH = 4  # reconcile: the lake and OpenRouter's numbers differ beyond tolerance
EXIT_INCOMPLETE = 5  # collect: some ids never came (run it again later: it resumes)
