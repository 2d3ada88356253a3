"""Request fields shared by every step-enforced tool, described once and tersely."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tools.fields import StrList, StrictModel, ThreadFields
from utils.vocabulary import ThinkingMode

Confidence = Literal["exploring", "low", "medium", "high", "very_high", "almost_certain", "certain"]
Severity = Literal["critical", "high", "medium", "low"]


# One problem found; `location` is path:line or a symbol. No docstring or field descriptions: the model is
# inlined into every step-enforced tool's schema, which a client keeps in its context.
class Issue(StrictModel):
    severity: Severity
    description: str
    location: str | None = None


# Lean request bases for the step engine's tools. They leave out what most step-enforced tools do not
# need (temperature, images, thinking_mode and hypothesis are opt-in mixins) and avoid defaults in the schema, because every field here is repeated in
# eleven tool schemas that a client keeps in its context. None means "the default" in the engine.


class StepProtocol(ThreadFields):
    """The step protocol alone (planner): one call per step, the last with next_step_required=false."""

    continuation_id: str | None = Field(None, description="Required after step 1")
    step: str = Field(description="This step's work; on step 1, the task.")
    step_number: int = Field(ge=1)
    total_steps: int = Field(ge=1)
    next_step_required: bool = Field(description="false on the final step")


class InvestigationFields(StepProtocol):
    """Step fields for tools that end with an expert model's review."""

    files_field = "relevant_files"

    model: str | None = None  # 'auto' or omitted: Quorum picks (chat's schema explains; listmodels lists)
    findings: str
    files_checked: StrList = Field(default_factory=list)
    relevant_files: StrList = Field(default_factory=list, description="Absolute paths; embedded for the expert")
    relevant_context: StrList = Field(default_factory=list)
    issues_found: list[Issue] = Field(default_factory=list)
    confidence: Confidence | None = None
    use_assistant_model: bool | None = Field(None, description="false: no expert model call")
    working_directory_absolute_path: str | None = None

    def asked_model(self) -> str | None:
        return self.model

    def working_directory(self) -> str | None:
        return self.working_directory_absolute_path


class HypothesisField(StrictModel):
    hypothesis: str | None = None


class ThinkingField(StrictModel):
    thinking_mode: ThinkingMode | None = None


SeverityFilter = Literal["critical", "high", "medium", "low", "all"]
