"""chat: talk to a model, with files and images; the default way to get a second opinion."""

from __future__ import annotations

from pydantic import Field

from tools.base import Tool, ToolError, ToolOutput
from tools.fields import FileFields, ModelFields
from tools.pipeline.consult import consult, exchange_turns, with_notes
from tools.pipeline.context import RequestContext
from tools.pipeline.envelope import CONTINUATION_AVAILABLE
from tools.pipeline.fit import dropped_note
from tools.pipeline.inputs import load_files, load_images


class ChatRequest(ModelFields, FileFields):
    prompt: str = Field(description="Your question or idea, with the context the other model needs.")


class ChatTool(Tool):
    name = "chat"
    description = (
        "Ask another model (Gemini, GPT, Grok, local...) for a second opinion, brainstorming or explanation, "
        "with files and images. Returns continuation_id: pass it to any Quorum tool to keep the thread."
    )
    request_model = ChatRequest
    category = "balanced"
    prompt_field = "prompt"
    conversational = True

    async def run(self, request: ChatRequest, ctx: RequestContext) -> ToolOutput:
        assert ctx.route is not None
        if not request.prompt.strip():
            raise ToolError(
                "invalid_arguments",
                "'prompt' is empty: say what you want to ask (or pass a prompt.txt in absolute_file_paths).",
            )
        loaded = await load_files(ctx, request.absolute_file_paths)
        images = await load_images(ctx, request.images, ctx.route)
        answer = await consult(
            ctx,
            system_prompt=self.system_prompt(),
            new_input=request.prompt,
            files=loaded.files,
            images=images,
            temperature=request.temperature,
            thinking_mode=request.thinking_mode,
        )
        turns = exchange_turns(self.name, request.prompt, answer, images=request.images)
        note = dropped_note(answer.plan)
        return ToolOutput(
            content=f"{note}\n\n{answer.text}" if note else answer.text,
            status=CONTINUATION_AVAILABLE,
            content_type="markdown",
            metadata=with_notes(answer.metadata(), loaded.skipped),
            turns=turns,
        )
