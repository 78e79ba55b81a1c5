"""The one error type services raise; it carries a message that is already translatable."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule refused the change. `message` is shown to the user as it is."""

    status_code = 400

    def __init__(self, message: Any, *, code: str = "invalid") -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code


class ConflictError(DomainError):
    """The change collides with the current state (a transition that is no longer allowed)."""

    status_code = 409


class InvalidFields(DomainError):
    """Input was refused field by field: `errors` maps each field to what is wrong with it;
    the message is the first of them. Subclasses name the kind of input in `error_code`."""

    error_code = "invalid"

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(next(iter(errors.values())), code=self.error_code)
        self.errors = errors
