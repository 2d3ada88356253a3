"""A workflow run as the thread keeps it (thread.state[spec.state_key]): typed, in the JSON shape it always had.

A run is {"run_id", "tool", "status": "active"|"complete", "steps": [step records], "params": {...}}, plus
"branches" for the planner. A step record leaves out what a step did not say (only "n" and "step" always).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.workflow.fields import Issue


class StepRecord(BaseModel):
    """The part of a request that describes one step."""

    model_config = ConfigDict(frozen=True)

    n: int
    step: str
    findings: str = ""
    confidence: str | None = None  # a tool may define its own levels (refactor: partial, complete)
    hypothesis: str | None = None
    files_checked: tuple[str, ...] = ()
    relevant_files: tuple[str, ...] = ()
    relevant_context: tuple[str, ...] = ()
    issues: tuple[Issue, ...] = ()
    # The planner's bookkeeping: the branch a step belongs to, and the step that revised it.
    branch: str | None = None
    revised_in: int | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)


class Run(BaseModel):
    """One run of a step-enforced tool: its steps so far and the tool's own latest parameters."""

    model_config = ConfigDict(frozen=True)

    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    tool: str
    status: Literal["active", "complete"] = "active"
    steps: tuple[StepRecord, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)
    # The planner's branches: name -> the step number each starts from.
    branches: dict[str, int] = Field(default_factory=dict)

    def stored(self) -> dict[str, Any]:
        shape = self.model_dump(mode="json", exclude={"steps", "branches"})
        shape["steps"] = [s.stored() for s in self.steps]
        return {**shape, "branches": dict(self.branches)} if self.branches else shape
