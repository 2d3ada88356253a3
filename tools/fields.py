"""Request fields shared by tools, each described once and briefly (schemas cost client context)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ThinkingMode = Literal["minimal", "low", "medium", "high", "max"]


class StrictModel(BaseModel):
    """Base for every tool request: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ThreadFields(StrictModel):
    continuation_id: str | None = Field(None, description="Thread to continue (from an earlier response).")


class ModelFields(ThreadFields):
    model: str | None = Field(None, description="Model name or alias; 'auto' or omitted lets Quorum choose. See listmodels.")
    temperature: float | None = Field(None, ge=0, le=1, description="0-1; clamped to what the model allows.")
    thinking_mode: ThinkingMode | None = Field(None, description="Reasoning depth for models that think.")


class FileFields(StrictModel):
    absolute_file_paths: list[str] = Field(
        default_factory=list, description="Absolute paths of files or directories to embed."
    )
    images: list[str] = Field(default_factory=list, description="Absolute image paths or data URLs.")
    working_directory_absolute_path: str | None = Field(
        None, description="Project directory: allowed root for reads and where large output is saved."
    )
