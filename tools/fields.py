"""Request fields shared by tools, each described once and briefly (schemas cost client context),
and the small interface through which the dispatcher reads any request."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from utils.vocabulary import ThinkingMode


def _one_or_many(value: Any) -> Any:
    """Agents often pass a lone path where a list is expected; accept it as a list of one."""
    return [value] if isinstance(value, str) else value


# A list of strings that also accepts a single string; the published schema stays a plain array.
StrList = Annotated[list[str], BeforeValidator(_one_or_many)]


class StrictModel(BaseModel):
    """Base for every tool request: unknown fields are errors.

    It also declares what the dispatcher reads of any request before the tool runs (the thread to continue,
    the model asked for, the files passed, the working directory); a request without such a field answers
    None or nothing, and the field bases below answer from their fields.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    # The list field that holds the paths a caller passes (a prompt.txt may arrive there); None: no such field.
    files_field: ClassVar[str | None] = None

    def thread_ref(self) -> str | None:
        """The continuation_id of the thread this call continues."""
        return None

    def asked_model(self) -> str | None:
        """The model name or alias the caller asked for ('auto' or None: Quorum picks)."""
        return None

    def working_directory(self) -> str | None:
        """The working directory the caller named, unchecked."""
        return None

    def passed_files(self) -> list[str]:
        """The paths in `files_field`, as passed."""
        return list(getattr(self, self.files_field) or []) if self.files_field else []


class ThreadFields(StrictModel):
    continuation_id: str | None = Field(None, description="From an earlier response, to continue its thread")

    def thread_ref(self) -> str | None:
        return self.continuation_id


class ModelFields(ThreadFields):
    model: str | None = Field(None, description="Name or alias; omit or 'auto' to let Quorum pick (see listmodels)")
    temperature: float | None = Field(None, ge=0, le=1, description="0 to 1")
    thinking_mode: ThinkingMode | None = None

    def asked_model(self) -> str | None:
        return self.model


class FileFields(StrictModel):
    files_field = "absolute_file_paths"

    absolute_file_paths: StrList = Field(
        default_factory=list, description="Absolute paths of files or directories to embed."
    )
    images: StrList = Field(default_factory=list, description="Absolute image paths or data URLs.")
    working_directory_absolute_path: str | None = Field(
        None, description="Project directory inside the allowed roots: reads narrow to it; large output goes there."
    )

    def working_directory(self) -> str | None:
        return self.working_directory_absolute_path


