"""challenge: wrap a statement so the agent re-examines it instead of agreeing by reflex."""

from __future__ import annotations

import json

from pydantic import Field

from tools.base import Tool, ToolOutput
from tools.fields import StrictModel
from tools.pipeline.context import RequestContext
from tools.pipeline.envelope import CHALLENGE_CREATED


class ChallengeRequest(StrictModel):
    prompt: str = Field(description="The statement, claim or pushback to examine critically.")


class ChallengeTool(Tool):
    name = "challenge"
    description = (
        "Re-examine a claim critically instead of agreeing by reflex: use when the user questions or pushes back "
        "on something. No model call."
    )
    request_model = ChallengeRequest
    prompt_field = "prompt"

    async def run(self, request: ChallengeRequest, ctx: RequestContext) -> ToolOutput:
        instructions = self.system_prompt().strip()
        wrapped = f"{instructions}\n\nSTATEMENT TO EXAMINE:\n\"\"\"\n{request.prompt}\n\"\"\""
        body = {
            "original_statement": request.prompt,
            "challenge_prompt": wrapped,
            "instructions": "Answer the challenge_prompt yourself, honestly, before replying to the user.",
        }
        return ToolOutput(content=json.dumps(body, ensure_ascii=False), status=CHALLENGE_CREATED, content_type="json")
