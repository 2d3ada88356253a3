"""secaudit: a step-by-step security audit (OWASP, compliance, infrastructure, dependencies)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import InvestigationFields, SeverityFilter
from tools.workflow.spec import Guidance, WorkflowSpec


class SecAuditRequest(InvestigationFields):
    security_scope: str | None = None
    threat_level: Literal["low", "medium", "high", "critical"] | None = None
    compliance_requirements: list[str] = Field(default_factory=list)
    audit_focus: Literal["owasp", "compliance", "infrastructure", "dependencies", "comprehensive"] | None = None
    severity_filter: SeverityFilter | None = None


GUIDANCE = Guidance(
    first=(
        "Map the attack surface: entry points (HTTP, CLI, queues, files), trust boundaries, who the users are.",
        "Find where authentication, authorisation, sessions and secrets are handled and read that code.",
        "Note the data that must be protected and where it is stored or sent.",
    ),
    early=(
        "Trace untrusted input from each entry point to where it is used: queries, shell, templates, paths, deserialisation.",
        "Check access control on every sensitive operation, not just at the edge.",
        "Record each weakness in issues_found with severity and location.",
    ),
    middle=(
        "Check cryptography, secret storage, logging of sensitive data and error messages that leak detail.",
        "Check dependencies and configuration (debug flags, CORS, headers, permissions) against the threat level.",
        "Check the compliance requirements given, if any, control by control.",
    ),
    late=(
        "Re-check each finding: is it exploitable here, by whom, and with what impact?",
        "Make sure relevant_files covers the code behind each finding.",
        "Finish with next_step_required=false.",
    ),
    on_complete="Fix critical and high findings first and verify each fix; schedule the rest with owners and dates.",
)

SPEC = WorkflowSpec(
    name="secaudit",
    description="Step-by-step security audit (OWASP, compliance, infra, deps); an expert model validates it.",
    request_model=SecAuditRequest,
    category="reasoning",
    activity="security_audit",
    guidance=GUIDANCE,
    expert_brief=(
        "Audit the embedded code for security, for the given audit_focus (comprehensive when unset), "
        "security_scope, threat_level and compliance_requirements. Confirm or reject each finding of the agent "
        "with an exploit scenario, add what it missed, and report only findings at or above severity_filter when "
        "it is set. Answer with the JSON object described in your instructions."
    ),
)


class SecAuditTool(WorkflowTool):
    spec = SPEC
