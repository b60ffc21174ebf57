"""A scripted model speaking the Anthropic Messages API (SSE), for chat tests (respx) and Claude Code runs
(a local HTTP server on 127.0.0.1)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


def sse(text: str = "", tool_calls: list[tuple[str, str, dict]] | None = None, model: str = "scripted") -> bytes:
    """One assistant message as SSE events: optional text, then tool_use blocks (id, name, input)."""
    events: list[tuple[str, dict]] = [("message_start", {"type": "message_start", "message": {
        "id": "msg_scripted", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 100, "output_tokens": 1}}})]
    index = 0
    if text:
        events += [("content_block_start", {"type": "content_block_start", "index": 0,
                                            "content_block": {"type": "text", "text": ""}}),
                   ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": text}}),
                   ("content_block_stop", {"type": "content_block_stop", "index": 0})]
        index = 1
    for tid, name, args in tool_calls or []:
        events += [("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": tid, "name": name, "input": {}}}),
                   ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                       "type": "input_json_delta", "partial_json": json.dumps(args)}}),
                   ("content_block_stop", {"type": "content_block_stop", "index": index})]
        index += 1
    events += [("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": "tool_use" if tool_calls else "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 50}}), ("message_stop", {"type": "message_stop"})]
    return "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events).encode()


class ScriptedServer:
    """POST /v1/messages answered by ``respond(request_json) -> sse bytes``; every request is recorded."""

    def __init__(self, respond: Callable[[dict], bytes]) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not self.path.startswith("/v1/messages") or self.path.startswith("/v1/messages/count_tokens"):
                    self._json({"input_tokens": 100} if "count_tokens" in self.path else {})
                    return
                outer.requests.append(body)
                data = respond(body)
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self._json(message_from_sse(data))

            def do_GET(self) -> None:  # noqa: N802
                self._json({})

            def _json(self, obj: dict) -> None:
                raw = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def message_from_sse(data: bytes) -> dict:
    """The non-streaming Message equivalent of a scripted SSE answer."""
    msg: dict = {}
    blocks: dict[int, dict] = {}
    partial: dict[int, str] = {}
    for chunk in data.decode().split("\n\n"):
        line = next((x for x in chunk.splitlines() if x.startswith("data: ")), None)
        if not line:
            continue
        ev = json.loads(line[6:])
        if ev["type"] == "message_start":
            msg = ev["message"]
        elif ev["type"] == "content_block_start":
            blocks[ev["index"]] = ev["content_block"]
        elif ev["type"] == "content_block_delta":
            d = ev["delta"]
            if d["type"] == "text_delta":
                blocks[ev["index"]]["text"] += d["text"]
            else:
                partial[ev["index"]] = partial.get(ev["index"], "") + d["partial_json"]
        elif ev["type"] == "message_delta":
            msg["stop_reason"] = ev["delta"]["stop_reason"]
    for i, p in partial.items():
        blocks[i]["input"] = json.loads(p)
    msg["content"] = [blocks[i] for i in sorted(blocks)]
    return msg


def tool_results(request: dict) -> list[dict]:
    """The tool_result blocks of the last user turn of a request."""
    last = request.get("messages", [])[-1]
    content = last.get("content")
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(
        content, list) else []
