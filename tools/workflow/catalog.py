"""The step-enforced tools, in the order they are listed."""

from __future__ import annotations

from tools.base import Tool
from tools.workflow.analyze import AnalyzeTool
from tools.workflow.codereview import CodeReviewTool
from tools.workflow.debug import DebugTool
from tools.workflow.docgen import DocGenTool
from tools.workflow.planner import PlannerTool
from tools.workflow.precommit import PrecommitTool
from tools.workflow.refactor import RefactorTool
from tools.workflow.secaudit import SecAuditTool
from tools.workflow.testgen import TestGenTool
from tools.workflow.thinkdeep import ThinkDeepTool
from tools.workflow.tracer import TracerTool


def workflow_tools() -> list[Tool]:
    return [
        ThinkDeepTool(),
        DebugTool(),
        AnalyzeTool(),
        CodeReviewTool(),
        PrecommitTool(),
        SecAuditTool(),
        TestGenTool(),
        RefactorTool(),
        DocGenTool(),
        TracerTool(),
        PlannerTool(),
    ]
