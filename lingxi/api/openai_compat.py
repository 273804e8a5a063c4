"""OpenAI-compatible chat completions, so any existing chat client can use lingxi as its model.

Models: ``lingxi-agent`` (the search agent over the caller's visible notes; citations as [n] in the text and listed
after it) and ``lingxi-<persona>`` for each companion persona (the caller is the user it remembers)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from lingxi.agent import AgentConfig
from lingxi.api.app import Service
from lingxi.api.stream import Emit, stream_job
from lingxi.api.v1 import User, chat_reply, personas, service
from lingxi.errors import BadInput
from lingxi.index.filters import Filters
from lingxi.types import Step

router = APIRouter(prefix="/v1", tags=["openai"])
AGENT = "lingxi-agent"
Svc = Annotated[Service, Depends(service)]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # the array form: keep the text parts
            return "".join(str(p.get("text", "")) for p in self.content if isinstance(p, dict))
        return self.content or ""


class CompletionRequest(BaseModel):
    model: str = Field(min_length=1, max_length=100)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    temperature: float | None = None
    max_tokens: int | None = None


def model_ids(svc: Service) -> list[str]:
    return [AGENT] + [f"lingxi-{pid}" for pid in personas(svc)]


@router.get("/models")
def models(svc: Svc, user: User) -> dict[str, Any]:
    """The models /v1/chat/completions answers to."""
    return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "lingxi"}
                                       for m in model_ids(svc)]}


def agent_text(ans: dict[str, Any]) -> str:
    lines = [ans["answer"]]
    if ans["citations"]:
        lines.append("")
        lines += [f"[{c['n']}] {c['title']} — {c['locator']} — “{c['quote']}”" for c in ans["citations"]]
    return "\n".join(lines)


def _last_user(req: CompletionRequest) -> str:
    for m in reversed(req.messages):
        if m.role == "user" and m.text().strip():
            return m.text().strip()
    raise BadInput("messages: no user message with text")


def _run(svc: Service, user: str, req: CompletionRequest, emit: Emit | None) -> str:
    message = _last_user(req)
    if req.model == AGENT:
        config = AgentConfig(max_seconds=svc.config.ask_timeout_s)
        on_step = None
        if emit is not None:
            def on_step(step: Step) -> None:
                emit("step", step.kind)  # keeps the stream alive while the agent works; not sent to the client
        ans = svc.lib.ask(message, svc.chat, config, on_step=on_step, filters=Filters(viewer=user)).to_dict()
        text = agent_text(ans)
        if emit is not None:
            emit("token", text)
        return text
    pid = req.model.removeprefix("lingxi-")
    out = chat_reply(svc, user, pid, message, (lambda e, d: emit("token", d["text"])) if emit is not None else None)
    return str(out["reply"])


def _check_model(svc: Service, model: str) -> None:
    known = model_ids(svc)
    if model not in known:
        raise BadInput(f"model {model!r} is not one of: {', '.join(known)}")


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


@router.post("/chat/completions")
async def completions(svc: Svc, user: User, req: CompletionRequest) -> Response:
    """OpenAI's chat completions (``stream: true`` gives ``chat.completion.chunk`` events, then ``[DONE]``)."""
    _check_model(svc, req.model)
    _last_user(req)
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if req.stream:
        inner = stream_job(svc.gate, lambda emit: _run(svc, user, req, emit), "done")

        async def body() -> Any:
            yield _chunk(cid, req.model, {"role": "assistant", "content": ""})
            async for raw in inner.body_iterator:
                text = raw.decode() if isinstance(raw, bytes) else str(raw)
                event, _, data = text.partition("\ndata: ")
                kind = event.removeprefix("event: ")
                if kind == "token":
                    yield _chunk(cid, req.model, {"content": json.loads(data)})
                elif kind == "error":
                    err = json.loads(data)
                    yield f"data: {json.dumps({'error': {'message': err['detail'], 'type': err['error']}})}\n\n".encode()
            yield _chunk(cid, req.model, {}, "stop")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    def run() -> str:
        with svc.gate.slot():
            return _run(svc, user, req, None)

    text = await run_in_threadpool(run)
    return JSONResponse({
        "id": cid, "object": "chat.completion", "created": int(time.time()), "model": req.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    })
