"""The floor: a bare MCP SDK low-level server with one `chat` tool, spawned over stdio like Quorum.

The tool forwards the prompt to the OpenAI-compatible endpoint at BARE_API_URL through the `openai`
SDK, with none of Quorum's work (no validation model, no threads, no files, no budget). Like Quorum it
imports `openai` on first use, so its start-up is the MCP SDK's own.

With BARE_FILES=1 the tool also takes `files` (absolute paths): it reads each one and sends its text after the
prompt, the same I/O a continuation turn of Quorum does with its thread's files and nothing more.
"""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server

CHAT_SCHEMA = {
    "type": "object",
    "properties": {"prompt": {"type": "string", "description": "What to ask the model."}},
    "required": ["prompt"],
}


FILES_SCHEMA = {
    "type": "object",
    "properties": {**CHAT_SCHEMA["properties"], "files": {"type": "array", "items": {"type": "string"}}},
    "required": ["prompt"],
}


def _with_files(prompt: str, paths: list[str]) -> str:
    parts = [prompt]
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            parts.append(f"--- {path} ---\n{handle.read()}")
    return "\n\n".join(parts)


def create_server() -> Server[Any]:
    client: Any = None
    files = os.environ.get("BARE_FILES") == "1"

    async def on_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        schema = FILES_SCHEMA if files else CHAT_SCHEMA
        tool = types.Tool(name="chat", description="Ask a model.", input_schema=schema)
        return types.ListToolsResult(tools=[tool])

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        nonlocal client
        if client is None:
            import openai

            client = openai.AsyncOpenAI(base_url=os.environ["BARE_API_URL"], api_key="bare", max_retries=0)
        prompt = str((params.arguments or {}).get("prompt", ""))
        if files:
            prompt = _with_files(prompt, list((params.arguments or {}).get("files") or []))
        reply = await client.chat.completions.create(
            model=os.environ.get("BARE_MODEL", "gpt-fake"),
            messages=[{"role": "user", "content": prompt}],
        )
        text = json.dumps({"status": "success", "content": reply.choices[0].message.content})
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    return Server("bare", version="0", on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def serve() -> None:
    from mcp.server.stdio import stdio_server

    server = create_server()
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(serve)
