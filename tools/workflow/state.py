"""Workflow run state (tools/workflow/run.py) and what is derived from it: pure functions only.

Aggregates (files, issues, hypotheses, confidence history) are derived from the steps, never stored twice.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel

from tools.workflow.fields import HypothesisField, InvestigationFields, Issue
from tools.workflow.run import Run, StepRecord

SEVERITIES = ("critical", "high", "medium", "low")
_SHARED = frozenset(InvestigationFields.model_fields) | frozenset(HypothesisField.model_fields)


def new_run(tool: str) -> Run:
    return Run(tool=tool)


def step_record(request: BaseModel) -> StepRecord:
    """The part of a request that describes this step, as stored on the thread (planner lacks most fields)."""
    fields: dict[str, Any] = dict(request)
    return StepRecord(
        n=fields["step_number"],
        step=fields["step"],
        findings=fields.get("findings") or "",
        confidence=fields.get("confidence"),
        hypothesis=fields.get("hypothesis") or None,
        files_checked=tuple(fields.get("files_checked") or ()),
        relevant_files=tuple(fields.get("relevant_files") or ()),
        relevant_context=tuple(fields.get("relevant_context") or ()),
        issues=tuple(Issue.model_validate(i, from_attributes=True) for i in fields.get("issues_found") or ()),
    )


def tool_params(request: BaseModel) -> dict[str, Any]:
    """The tool's own fields (review_type, path, counters...): the latest values win."""
    return request.model_dump(exclude=set(_SHARED), exclude_none=True, mode="json")


def add_step(run: Run, record: StepRecord, params: dict[str, Any]) -> Run:
    """Append a step; re-sending step N replaces N and everything after it (a retry or a redo)."""
    kept = tuple(s for s in run.steps if s.n < record.n)
    return run.model_copy(update={"status": "active", "steps": (*kept, record), "params": {**run.params, **params}})


def _union(run: Run, key: str) -> list[str]:
    seen: dict[str, None] = {}
    for step in run.steps:
        for item in getattr(step, key):
            seen.setdefault(item, None)
    return list(seen)


def all_issues(run: Run) -> list[Issue]:
    """Every issue reported in the run, once, most severe first (a repeated description counts once)."""
    found: dict[tuple[str, str], Issue] = {}
    for step in run.steps:
        for issue in step.issues:
            found.setdefault((issue.severity, issue.description.strip().lower()), issue)
    return sorted(found.values(), key=lambda i: SEVERITIES.index(i.severity))


def aggregate(run: Run) -> dict[str, Any]:
    """The run's accumulated evidence, as JSON for the response."""
    return {
        "files_checked": _union(run, "files_checked"),
        "relevant_files": _union(run, "relevant_files"),
        "relevant_context": _union(run, "relevant_context"),
        "issues": [i.model_dump(exclude_none=True) for i in all_issues(run)],
        "hypotheses": [
            {"step": s.n, "hypothesis": s.hypothesis, "confidence": s.confidence} for s in run.steps if s.hypothesis
        ],
        "confidence_history": [s.confidence for s in run.steps if s.confidence],
    }


def progress(run: Run) -> dict[str, Any]:
    """The compact summary returned with every step."""
    agg = aggregate(run)
    counts = Counter(i["severity"] for i in agg["issues"])
    summary: dict[str, Any] = {
        "steps_taken": len(run.steps),
        "files_checked": len(set(agg["files_checked"]) | set(agg["relevant_files"])),
        "relevant_files": agg["relevant_files"],
        "issues_by_severity": {s: counts[s] for s in SEVERITIES if counts[s]},
        "confidence": run.steps[-1].confidence if run.steps else None,
    }
    if agg["hypotheses"]:
        summary["hypothesis"] = agg["hypotheses"][-1]["hypothesis"]
    return summary


def render_step(tool: str, record: StepRecord, total_steps: int) -> str:
    """A step as the thread records it: short, so later tools on the thread see the investigation."""
    head = f"[{tool} step {record.n}/{total_steps}"
    head += f" · confidence: {record.confidence}]" if record.confidence else "]"
    lines = [head, f"Step: {record.step}"]
    if record.findings:
        lines.append(f"Findings: {record.findings}")
    if record.hypothesis:
        lines.append(f"Hypothesis: {record.hypothesis}")
    for issue in record.issues:
        where = f" ({issue.location})" if issue.location else ""
        lines.append(f"Issue [{issue.severity}]: {issue.description}{where}")
    if record.relevant_context:
        lines.append("Relevant context: " + ", ".join(record.relevant_context))
    if record.relevant_files:
        lines.append("Relevant files: " + ", ".join(record.relevant_files))
    return "\n".join(lines)


def render_investigation(tool: str, run: Run) -> str:
    """The whole run as the expert reads it: every step, then the accumulated evidence."""
    agg = aggregate(run)
    steps = run.steps
    total = max((s.n for s in steps), default=0)
    parts = [f"=== {tool.upper()} INVESTIGATION BY THE AGENT ({len(steps)} steps) ==="]
    if run.params:
        parts.append("Settings: " + ", ".join(f"{k}={v}" for k, v in sorted(run.params.items())))
    parts.extend(render_step(tool, s, total) for s in steps)
    evidence = ["=== ACCUMULATED EVIDENCE ==="]
    if agg["files_checked"]:
        evidence.append("Files checked: " + ", ".join(agg["files_checked"]))
    if agg["relevant_files"]:
        evidence.append("Relevant files (embedded above when they fit): " + ", ".join(agg["relevant_files"]))
    if agg["relevant_context"]:
        evidence.append("Relevant context: " + ", ".join(agg["relevant_context"]))
    if agg["issues"]:
        evidence.append("Issues the agent reported, most severe first:")
        evidence.extend(
            f"- [{i['severity']}] {i['description']}" + (f" ({i['location']})" if i.get("location") else "")
            for i in agg["issues"]
        )
    if agg["hypotheses"]:
        evidence.append("Hypothesis history:")
        evidence.extend(f"- step {h['step']} ({h['confidence']}): {h['hypothesis']}" for h in agg["hypotheses"])
    if agg["confidence_history"]:
        evidence.append("Confidence by step: " + " → ".join(agg["confidence_history"]))
    return "\n\n".join(parts) + "\n\n" + "\n".join(evidence)
