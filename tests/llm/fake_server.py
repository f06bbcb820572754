"""A small OpenAI-compatible HTTP server for tests and benchmarks.

It speaks the wire format vLLM speaks — `GET /v1/models`,
`POST /v1/chat/completions` with `tools`/`tool_calls` and
`response_format: {"type": "json_schema"}`, and vLLM's `POST /tokenize` —
on 127.0.0.1 with a free port. Replies come from a model function
(`tests.llm.scripted.cooperative` by default); `script` queues one-off
behaviours for the next requests: an HTTP error, a delay (timeouts) or a
fixed reply.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from agent.tokens import ApproximateCounter
from tests.llm.scripted import Reply, cooperative


@dataclass
class HTTPError:
    status: int
    message: str


@dataclass
class Delay:
    seconds: float


Behaviour = HTTPError | Delay | Reply | Callable[[dict], Reply]


def completion_body(reply: Reply, model: str, prompt_tokens: int | None, completion_tokens: int | None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.calls:
        message["tool_calls"] = [
            {"id": f"chatcmpl-tool-{uuid.uuid4().hex[:12]}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for n, a in reply.calls
        ]
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if reply.calls else "stop", "logprobs": None}],
    }
    if prompt_tokens is not None:
        body["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip
    return body


class FakeOpenAIServer:
    def __init__(
        self,
        model_fn: Callable[[list, list | None, dict | None], Reply] = cooperative,
        model: str = "fake/Qwen3-8B",
        usage: bool = True,
        tokenize: bool = True,
        structured: bool = True,
        tools: bool = True,
    ):
        self.model_fn = model_fn
        self.model = model
        self.usage = usage
        self.tokenize = tokenize
        self.structured = structured
        self.tools = tools
        self.script: list[Behaviour] = []
        self.requests: list[tuple[str, dict]] = []
        self.counter = ApproximateCounter()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> "FakeOpenAIServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def do_GET(self):
                server.requests.append((self.path, {}))
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model", "owned_by": "vllm",
                                                                  "max_model_len": 32768}]})  # fmt: skip
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append((self.path, req))
                status, body = server.handle(self.path, req)
                self._send(status, body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def root_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def chat_requests(self) -> list[dict]:
        return [r for p, r in self.requests if p == "/v1/chat/completions"]

    # -- behaviour ---------------------------------------------------------
    def handle(self, path: str, req: dict) -> tuple[int, dict]:
        if path == "/tokenize":
            if not self.tokenize:
                return 404, {"detail": "Not Found"}
            if "messages" in req:
                n = self.counter.count_messages(req["messages"], req.get("tools"))
            else:
                n = self.counter.count_text(req.get("prompt", ""))
            return 200, {"count": n, "max_model_len": 32768, "tokens": list(range(n))}
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}"}}
        behaviour = self.script.pop(0) if self.script else None
        if isinstance(behaviour, HTTPError):
            return behaviour.status, {"object": "error", "message": behaviour.message, "type": "BadRequestError", "code": behaviour.status}
        if isinstance(behaviour, Delay):
            time.sleep(behaviour.seconds)
            behaviour = None
        rf = req.get("response_format")
        if rf and rf.get("type") == "json_schema" and not self.structured:
            return 400, {"object": "error", "message": "response_format type json_schema is not supported by this server",
                         "type": "BadRequestError", "code": 400}  # fmt: skip
        if req.get("tools") and not self.tools:
            return 400, {"object": "error", "message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
                         "type": "BadRequestError", "code": 400}  # fmt: skip
        schema = rf["json_schema"]["schema"] if rf and rf.get("type") == "json_schema" else None
        if isinstance(behaviour, Reply):
            reply = behaviour
        elif callable(behaviour):
            reply = behaviour(req)
        else:
            reply = self.model_fn(req["messages"], req.get("tools"), schema)
        prompt = self.counter.count_messages(req["messages"], req.get("tools")) if self.usage else None
        completion = self.counter.count_text(reply.content + json.dumps(reply.calls)) if self.usage else None
        return 200, completion_body(reply, req.get("model", self.model), prompt, completion)
