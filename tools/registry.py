"""The tool registry: every tool instance, minus DISABLED_TOOLS."""

from __future__ import annotations

import logging

from tools.base import Tool
from tools.challenge import ChallengeTool
from tools.chat import ChatTool
from tools.clink import ClinkTool
from tools.consensus import ConsensusTool
from tools.listmodels import ListModelsTool
from tools.threads import ThreadsTool
from tools.version import VersionTool
from tools.workflow import workflow_tools

logger = logging.getLogger(__name__)


def all_tools() -> list[Tool]:
    return [
        ChatTool(),
        *workflow_tools(),
        ConsensusTool(),
        ClinkTool(),
        ChallengeTool(),
        ThreadsTool(),
        ListModelsTool(),
        VersionTool(),
    ]


def enabled_tools(disabled: tuple[str, ...] = ()) -> dict[str, Tool]:
    wanted_off = {name.strip().lower() for name in disabled}
    tools: dict[str, Tool] = {}
    for tool in all_tools():
        if tool.name in wanted_off and not tool.always_enabled:
            continue
        tools[tool.name] = tool
    unknown = wanted_off - {t.name for t in all_tools()}
    if unknown:
        logger.warning("DISABLED_TOOLS names unknown tools: %s", ", ".join(sorted(unknown)))
    return tools
