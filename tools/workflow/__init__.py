"""Step-enforced workflow tools: one engine (engine.py) runs every tool's specification."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.base import Tool


def workflow_tools() -> list[Tool]:
    """The workflow tools, in listing order (imported lazily: importing tools.workflow.fields stays light)."""
    from tools.workflow.catalog import workflow_tools as build

    return build()
