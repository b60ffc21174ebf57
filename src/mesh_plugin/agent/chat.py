"""A tool-calling chat loop over the same tool registry the MCP server exposes.

Streaming text to the terminal; read tools run directly; write tools ask first (interactive y/N, or
``--yes``; refused when there is no terminal to ask); bounded by max turns and a token budget.
``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` are honoured.
"""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfirmationRequired, InvalidInput, MeshError, clip

# The newest Sonnet-class alias in the SDK's model list (cost and speed suit a tool loop). A test fails when
# it appears in the SDK's deprecated-model table, so the next end of life shows up in CI, not for users.
DEFAULT_MODEL = "claude-sonnet-5-5"
FALLBACK_PROMPT = ("You are a senior service-mesh engineer (Istio and Linkerd). Work only through the tools; "
                   "base every conclusion on a tool result; dry-run before every write and state the rollback.")


def system_prompt() -> str:
    """The body of the mesh-engineer agent (the same prompt Claude Code uses), without its frontmatter: the
    copy inside the package (agents/mesh-engineer.md in the plugin; a test keeps the two identical), so the
    wheel's chat has it too. Never read from the working folder: a prompt is not taken from untrusted files."""
    path = Path(__file__).resolve().parent / "mesh-engineer.md"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        m = re.match(r"^---\n.*?\n---\n(.*)$", text, re.S)
        return (m.group(1) if m else text).strip()
    return FALLBACK_PROMPT


def tool_specs(read_only: bool = False) -> list[dict]:
    """Anthropic tool definitions from the registry: name, description, JSON input schema."""
    from ..tools.registry import load_tools

    return [{"name": t.name, "description": t.description, "input_schema": t.input_schema()}
            for t in load_tools(read_only=read_only)]


class ChatSession:
    def __init__(self, *, client: Any = None, model: str | None = None, max_turns: int = 8,
                 token_budget: int = 200_000, max_tokens: int = 4096, assume_yes: bool = False,
                 read_only: bool = False, out: TextIO | None = None,
                 confirm: Callable[[str], bool] | None = None) -> None:
        if client is None:
            if not os.environ.get("ANTHROPIC_API_KEY"):
                raise InvalidInput("ANTHROPIC_API_KEY is not set, so mesh-plugin chat cannot reach a model.",
                                   hint="export ANTHROPIC_API_KEY=... (and ANTHROPIC_BASE_URL for a gateway), or "
                                        "use the same tools from Claude Code or the CLI.")
            import anthropic

            client = anthropic.Anthropic(base_url=os.environ.get("ANTHROPIC_BASE_URL") or None)
        self.client = client
        self.model = model or os.environ.get("MESH_PLUGIN_MODEL") or DEFAULT_MODEL
        self.max_turns, self.token_budget, self.max_tokens = max_turns, token_budget, max_tokens
        self.assume_yes, self.read_only = assume_yes, read_only
        self.out = out or sys.stdout
        self.confirm = confirm or self._ask
        self.messages: list[dict] = []
        self.tokens_used = 0
        self.tools = tool_specs(read_only)
        self.system = system_prompt()

    def _ask(self, question: str) -> bool:
        if self.assume_yes:
            return True
        if not sys.stdin.isatty():
            return False
        self.out.write(f"\n{question} [y/N] ")
        self.out.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    def ask(self, prompt: str) -> str:
        """One user turn, with as many tool round trips as it takes (up to max_turns). Returns the final text."""
        from ..tools.registry import tool_named

        self.messages.append({"role": "user", "content": prompt})
        final = ""
        for _ in range(self.max_turns):
            if self.tokens_used >= self.token_budget:
                self.out.write(f"\n[stopped: token budget of {self.token_budget} used]\n")
                return final
            with self.client.messages.stream(model=self.model, max_tokens=self.max_tokens, system=self.system,
                                             tools=self.tools, messages=self.messages) as stream:
                for text in stream.text_stream:
                    self.out.write(text)
                    self.out.flush()
                msg = stream.get_final_message()
            self.tokens_used += int(getattr(msg.usage, "input_tokens", 0) or 0) + int(
                getattr(msg.usage, "output_tokens", 0) or 0)
            content = [b.model_dump(exclude_none=True) for b in msg.content]
            self.messages.append({"role": "assistant", "content": content})
            final = "".join(b.get("text", "") for b in content if b.get("type") == "text")
            if msg.stop_reason != "tool_use":
                self.out.write("\n")
                return final
            results = []
            for block in content:
                if block.get("type") != "tool_use":
                    continue
                results.append(self._run_tool(tool_named, block))
            self.messages.append({"role": "user", "content": results})
        self.out.write(f"\n[stopped after {self.max_turns} turns]\n")
        return final

    def _run_tool(self, tool_named: Callable[[str], Any], block: dict) -> dict:
        name, args = block.get("name", ""), block.get("input") or {}
        res: dict[str, Any] = {"type": "tool_result", "tool_use_id": block.get("id")}
        try:
            tool = tool_named(name)
        except KeyError:
            return {**res, "content": f"unknown tool {str(name)[:60]!r}", "is_error": True}
        if not tool.read_only:
            if self.read_only:
                return {**res, "content": "refused: read-only mode", "is_error": True}
            if args.get("apply") and not self.confirm(f"Apply {name} {clip(json.dumps(args), 2000)}?"):
                return {**res, "is_error": True,
                        "content": "refused: the user did not confirm this change (run with --yes, or answer y). "
                                   "Show the dry-run instead."}
        self.out.write(f"\n[{name} {clip(json.dumps(args), 300)}]\n")
        try:
            try:
                out = tool.call(**args)
            except ConfirmationRequired as e:  # a production namespace: ask the user, as elicitation would
                if not self.confirm(f"{e.message}\n{e.diff}\nApply it in {e.namespace}?"):
                    raise
                out = tool.call(**{**args, "confirm": e.namespace})
            return {**res, "content": out.model_dump_json(exclude_none=tool.spec.key is not None)}
        except MeshError as e:
            return {**res, "content": f"{type(e).__name__}: {e}", "is_error": True}
        except Exception as e:  # noqa: BLE001 - never end the conversation on a tool's bug
            return {**res, "content": f"InternalError: {type(e).__name__}: {clip(str(e), 300)}", "is_error": True}


def run_chat(prompt: str | None, **kwargs: Any) -> int:
    session = ChatSession(**kwargs)
    if prompt:
        session.ask(prompt)
        return 0
    if not sys.stdin.isatty():
        text = sys.stdin.read().strip()
        if text:
            session.ask(text)
        return 0
    print("mesh-plugin chat: ask about your mesh; an empty line or Ctrl-D ends.", file=sys.stderr)
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            return 0
        if not line:
            return 0
        session.ask(line)
