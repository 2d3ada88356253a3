"""What a workflow tool is: data the step engine reads, plus a few optional functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from providers.registry import Category
from tools.fields import StrictModel
from tools.workflow.run import Run, StepRecord
from utils.prompting.budget import Allocation

if TYPE_CHECKING:
    from tools.pipeline.context import RequestContext

Band = Literal["early", "middle", "late"]

# Where a confidence level sits in an investigation; the band picks the required actions.
DEFAULT_BANDS: Mapping[str, Band] = {
    "exploring": "early",
    "low": "early",
    "medium": "middle",
    "high": "middle",
    "very_high": "late",
    "almost_certain": "late",
    "certain": "late",
}

# Sections fitted to a model (a diff) get its file room at ~3 characters a token, never less than this.
SECTION_CHARS_PER_TOKEN = 3
MIN_SECTION_CHARS = 20_000


@dataclass(frozen=True)
class Guidance:
    """Required actions for the agent before its next step: for step 1, then by confidence band."""

    first: tuple[str, ...]
    early: tuple[str, ...]
    middle: tuple[str, ...]
    late: tuple[str, ...]
    # Told to the agent with the final result: what to do with it.
    on_complete: str = "Review the result, verify each point against the code, and act on the highest severity first."

    def for_band(self, band: Band) -> tuple[str, ...]:
        return {"early": self.early, "middle": self.middle, "late": self.late}[band]


@dataclass(frozen=True)
class ExpertInput:
    """What a spec adds to the expert request: text sections, more files to embed, notes for the caller."""

    sections: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # Sections cut to the answering model's file room (a diff): sized when each model's prompt is built.
    fit_to_model: bool = False

    def within(self, allocation: Allocation) -> tuple[ExpertInput, tuple[str, ...]]:
        """These sections cut to what `allocation` leaves for files, and a note for each cut."""
        if not self.fit_to_model:
            return self, ()
        left = max(MIN_SECTION_CHARS, allocation.files_tokens * SECTION_CHARS_PER_TOKEN)
        kept: list[tuple[str, str]] = []
        notes: list[str] = []
        for title, body in self.sections:
            if len(body) > left:
                notes.append(f"{title.lower()}: cut at {left:,} characters for this model; review the rest in the files")
                body = body[:left]
            kept.append((title, body))
            left = max(left - len(body), 0)
        return replace(self, sections=tuple(kept)), tuple(notes)


# (request, ctx, run) -> ExpertInput: e.g. precommit reads the git diff here.
PrepareExpert = Callable[[Any, "RequestContext", Run], Awaitable[ExpertInput]]
# (request, ctx, run) -> extra required actions; raises ToolError when the step cannot be accepted.
Check = Callable[[Any, "RequestContext", Run], Awaitable[tuple[str, ...]]]
# (run, step record, request) -> run: a spec's own bookkeeping of steps (planner's revisions, branches).
RecordStep = Callable[[Run, StepRecord, Any], Run]
# (request) -> why the expert is skipped, or None: a spec's own opt-out (e.g. review_validation_type=internal).
SkipRule = Callable[[Any], "str | None"]


def internal_validation(field_name: str, work: str) -> SkipRule:
    """The opt-out of a tool whose `field_name`='internal' means the agent finishes `work` without the expert."""

    def rule(request: Any) -> str | None:
        if getattr(request, field_name, None) == "internal":
            return f"{field_name}=internal: the {work} is complete without the expert model."
        return None

    return rule
# (run) -> text: the result of a self-contained tool's final step (planner's outline).
Render = Callable[[Run], str]


@dataclass(frozen=True)
class WorkflowSpec:
    """One step-enforced tool, described as data. The engine (tools/workflow/engine.py) runs it."""

    name: str
    description: str
    request_model: type[StrictModel]
    category: Category | None
    activity: str  # pause status: pause_for_<activity>
    guidance: Guidance
    expert_brief: str = ""  # the expert's task, appended after the investigation summary
    skip_expert_when: frozenset[str] = frozenset({"certain"})  # confidence levels that complete locally
    skip_expert: SkipRule | None = None
    bands: Mapping[str, Band] = field(default_factory=lambda: DEFAULT_BANDS)
    self_contained: bool = False  # never calls a model (planner)
    prepare_expert_input: PrepareExpert | None = None
    check: Check | None = None
    record_step: RecordStep | None = None
    render_result: Render | None = None

    @property
    def pause_status(self) -> str:
        return f"pause_for_{self.activity}"

    @property
    def complete_status(self) -> str:
        return f"{self.name}_complete"

    @property
    def state_key(self) -> str:
        return f"workflow:{self.name}"
