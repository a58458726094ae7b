"""One error family for everything a caller can get wrong.

Each error says what was expected, what was found and how to fix it. The service maps
``code`` to an HTTP status in one place; the CLI prints ``str(error)`` without a traceback.
"""

from __future__ import annotations


class SlantError(Exception):
    """Base class: a problem the caller can fix, with a message that says how."""

    code = "slant_error"

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None) -> None:
        self.message = message
        self.field = field
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{where}{self.message}{fix}"


class InvalidInputError(SlantError):
    """Text, actors or options that cannot be used as given."""

    code = "invalid_input"


class InputTooLargeError(InvalidInputError):
    """A text or request over a documented size limit."""

    code = "input_too_large"


class ModelLoadError(SlantError):
    """A model directory or hub id that cannot be loaded."""

    code = "model_load_error"


class ConfigError(SlantError):
    """A training or evaluation configuration that does not validate."""

    code = "config_error"
