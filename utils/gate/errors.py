"""The gate's error vocabulary: one exception class per situation, each carrying its envelope error kind."""

from __future__ import annotations

from typing import Any, ClassVar

from utils.vocabulary import ErrorKind


class GateError(ValueError):
    """An outside input was refused; `kind` lands in the error envelope, the message says what to do."""

    kind: ClassVar[ErrorKind] = "invalid_arguments"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def about(self, field: str) -> GateError:
        """The same refusal, naming the argument it came from."""
        if not field or self.message.startswith(f"{field}:"):
            return self
        again = type(self)(f"{field}: {self.message}", **self.details)
        again.__cause__ = self.__cause__
        return again


class PathRefusedError(GateError):
    """The path breaks the policy (outside the roots, system or secret file, not a regular file...)."""

    kind = "path_refused"


class FileMissingError(GateError):
    """The path passed the policy but nothing exists there."""

    kind = "file_missing"


class FileTooLargeError(GateError):
    """A file, image or data URL is larger than its cap; nothing past the cap was read."""

    kind = "file_too_large"


class TooManyFilesError(PathRefusedError):
    """Expanding directories found more files than the limit allows; the path is too broad."""


class InvalidInputError(GateError):
    """A malformed input the caller can fix (two prompt.txt files, a broken data URL...)."""

    kind = "invalid_arguments"


class NotAnImageError(InvalidInputError):
    """The bytes are not a PNG, JPEG, GIF or WebP image, whatever the name or declared type says."""


class FilesOverBudgetError(GateError):
    """Files the caller named are larger than the model's window could hold, whatever else is left out."""

    kind = "prompt_too_large"


class PromptOverLimitError(GateError):
    """The prompt text is over the transport limit; it should come as prompt.txt."""

    kind = "prompt_too_large"
