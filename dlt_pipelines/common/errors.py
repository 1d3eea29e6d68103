"""Operator-facing errors: one clear sentence and the fix, never a stack trace."""


class OperatorError(Exception):
    """A mistake the operator can fix (configuration, credentials, bad input).

    The CLI prints ``message`` and ``fix`` and exits with status 2 instead of a traceback.
    """

    exit_code = 2

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} Fix: {self.fix}" if self.fix else self.message


class ConfigError(OperatorError):
    """Missing or invalid configuration."""


class LockBusyError(OperatorError):
    """Another run holds the lock; this run exits at once."""

    exit_code = 3
