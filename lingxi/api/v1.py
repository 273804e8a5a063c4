"""The /v1 JSON API. Every route takes the caller from the API key and passes the user down to the library."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from lingxi.agent import AgentConfig
from lingxi.api.app import Service
from lingxi.api.stream import Emit, stream_job, wants_stream
from lingxi.errors import BadInput, NotFound
from lingxi.index.filters import Filters
from lingxi.rec.events import ACTIONS, parse_time
from lingxi.search.hybrid import MAX_QUERY_CHARS, MODES
from lingxi.types import Step

router = APIRouter(prefix="/v1")


def service(request: Request) -> Service:
    svc: Service = request.app.state.svc
    return svc


def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The user whose key is in ``Authorization: Bearer KEY``; 401 otherwise."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if not authorization:
        raise HTTPException(401, "missing Authorization: Bearer KEY (create a key with `lingxi users add NAME`)", challenge)
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(401, "the Authorization header must be 'Bearer KEY'", challenge)
    user = service(request).lib.users().authenticate(key.strip())
    if user is None:
        raise HTTPException(401, "unknown or revoked API key", challenge)
    return user


User = Annotated[str, Depends(caller)]
Svc = Annotated[Service, Depends(service)]


# --- who am I ---------------------------------------------------------------------------------------------------
@router.get("/me", tags=["users"])
def me(user: User) -> dict[str, Any]:
    """The caller's user name (the web app logs in with it)."""
    return {"user": user}


# --- files and notes --------------------------------------------------------------------------------------------
@router.post("/files", tags=["notes"])
async def upload(svc: Svc, user: User, file: Annotated[UploadFile, File(description="any format `lingxi ingest` takes")],
                 visibility: Annotated[Literal["private", "public"], Form()] = "private") -> JSONResponse:
    """Ingest one uploaded file as the caller's notes. A file that cannot be read → 400 naming why, and nothing is
    stored; one over the size limit → 413."""
    limit = svc.config.max_upload_bytes
    data = bytearray()
    while chunk := await file.read(1 << 20):
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"{file.filename or 'upload'}: over the {limit}-byte upload limit")
    name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name in (".", "..") or any(ord(c) < 32 for c in name) or len(name) > 200:
        raise BadInput(f"file name {file.filename!r} is not usable: give the upload a plain file name")
    report = await run_in_threadpool(svc.lib.ingest_upload, bytes(data), name, user, visibility)
    body = {**report.to_dict(), "visibility": visibility,
            "note_ids": svc.lib.store.note_ids_for_file(f"upload:{user}/{name}") if report.status != "failed" else []}
    if report.status == "failed":
        return JSONResponse({"error": "BadInput", "detail": report.reason, "report": body}, status_code=400)
    return JSONResponse(body, status_code=201 if report.status == "ingested" else 200)


@router.get("/notes", tags=["notes"])
def list_notes(svc: Svc, user: User, kind: str | None = None, mine: bool = False,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Notes the caller may see (``mine=true``: only the caller's uploads)."""
    notes = svc.lib.list_notes(kind=kind, limit=limit, offset=offset, viewer=user, owner=user if mine else None)
    return {"notes": notes, "limit": limit, "offset": offset}


def note_body(svc: Service, note_id: str, user: str) -> dict[str, Any]:
    note = svc.lib.get_note(note_id, viewer=user)
    owner, visibility = svc.lib.store.access(note_id)
    return {**note.to_dict(), "owner": owner, "visibility": visibility}


@router.get("/notes/{note_id}", tags=["notes"])
def get_note(svc: Svc, user: User, note_id: str) -> dict[str, Any]:
    """One note with its chunks and their locators; another user's private note is a 404."""
    return note_body(svc, note_id, user)


@router.delete("/notes/{note_id}", tags=["notes"])
def delete_note(svc: Svc, user: User, note_id: str) -> dict[str, Any]:
    """Delete one of the caller's notes (403 for a public note of someone else)."""
    svc.lib.delete_note(note_id, owner=user)
    return {"deleted": note_id}


# --- search and ask ---------------------------------------------------------------------------------------------
@router.get("/search", tags=["search"])
def search(svc: Svc, user: User, q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
           k: Annotated[int, Query(ge=1, le=100)] = 10, mode: str | None = None,
           per_note: Annotated[int, Query(ge=0, le=100)] = 1) -> dict[str, Any]:
    """Hybrid search over the notes the caller may see; ``snippet`` marks matched terms with 【】. At most
    ``per_note`` passages of one note are shown (0: no limit); ``grouping`` says how many more were folded under
    the notes shown, and ``notes`` lists each note once with its passages."""
    mode = mode or svc.search_mode()
    if mode not in MODES:
        raise BadInput(f"mode {mode!r} is not one of: {', '.join(MODES)}")
    t0 = time.perf_counter()
    res = svc.lib.search_results(q, k=k, mode=mode, filters=Filters(viewer=user), per_note=per_note)
    return {"query": q, "mode": mode, **res.to_dict(), "ms": round((time.perf_counter() - t0) * 1000, 2)}


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    max_llm_calls: int = Field(12, ge=1, le=24)


def _ask(svc: Service, user: str, req: AskRequest, emit: Emit | None) -> dict[str, Any]:
    config = AgentConfig(max_llm_calls=req.max_llm_calls, max_seconds=svc.config.ask_timeout_s)
    on_step: Callable[[Step], None] | None = None
    if emit is not None:
        def on_step(step: Step) -> None:
            if step.kind == "token":  # the answer's text as it is written; the `answer` event has the checked one
                emit("token", {"text": step.detail["text"]})
            else:
                emit("step", step.to_dict())
    ans = svc.lib.ask(req.question, svc.chat, config, on_step=on_step, filters=Filters(viewer=user))
    return ans.to_dict()


@router.post("/ask", tags=["search"])
async def ask(svc: Svc, user: User, req: AskRequest, accept: Annotated[str | None, Header()] = None) -> Response:
    """The search agent over the caller's visible notes → ``{answer, citations, steps}``. With
    ``Accept: text/event-stream`` each step is an SSE ``step`` event as it happens, the answer step's draft text
    arrives as ``token`` events while the model writes it, then one ``answer`` event (the checked, cited answer)."""
    if wants_stream(accept):
        return stream_job(svc.gate, lambda emit: _ask(svc, user, req, emit), "answer")

    def run() -> dict[str, Any]:
        with svc.gate.slot():
            return _ask(svc, user, req, None)

    return JSONResponse(await run_in_threadpool(run))


# --- recommendations and events ---------------------------------------------------------------------------------
class EventRequest(BaseModel):
    note_id: str = Field(min_length=1, max_length=256)
    action: str = Field("view", description=f"one of: {', '.join(ACTIONS)}")
    timestamp: float | str | None = Field(None, description="unix seconds or ISO-8601; default now")


@router.post("/events", tags=["recommend"])
def post_event(svc: Svc, user: User, req: EventRequest) -> dict[str, Any]:
    """Record that the caller engaged with a note they may see."""
    svc.lib.get_note(req.note_id, viewer=user)  # 404 for a note the caller may not see
    try:
        ts = time.time() if req.timestamp is None else parse_time(req.timestamp)
    except ValueError as e:
        raise BadInput(f"timestamp: {e}") from e
    added = svc.rec.record(user, req.note_id, req.action, ts)
    return {"user": user, "note_id": req.note_id, "action": req.action, "ts": ts, "recorded": added}


@router.get("/events", tags=["recommend"])
def list_events(svc: Svc, user: User, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """The caller's own engagement events, newest first."""
    from lingxi.rec.events import load_events

    _ = svc.rec
    evs = load_events(svc.lib.conn, user)[::-1][:limit]
    return {"user": user, "events": [{"note_id": e.note, "action": e.action, "ts": e.ts} for e in evs]}


@router.get("/recommendations", tags=["recommend"])
def recommendations(svc: Svc, user: User, k: Annotated[int, Query(ge=1, le=100)] = 10,
                    explore: Annotated[float, Query(ge=0.0, le=1.0)] = 0.2) -> dict[str, Any]:
    """Notes for the caller with their "why"; ``explore`` items (``explore: true``) come from proposed new
    interests (the LLM's, made ahead of time by ``lingxi recommend refresh``, or co-engagement topics when none are
    fresh). A caller without events gets the most engaged notes they may see."""
    rec = svc.rec
    try:
        rec.history(user)
    except NotFound:
        return {"user": user, "items": rec.popular(k, viewer=user), "history": 0, "explore_topics": [],
                "encoder": rec.catalogue().encoder_version}
    # exploration serves the LLM proposals `lingxi recommend refresh` cached for the caller, else co-engagement topics
    out = dict(rec.recommend(user, k, explore, proposer="llm", viewer=user))
    # topics are named from every note's tags; show only those the caller's own list explores
    shown = " ".join(it["reason"] for it in out["items"] if it["explore"])
    out["explore_topics"] = [t for t in out["explore_topics"] if t["topic"] in shown]
    return out


@router.get("/notes/{note_id}/similar", tags=["recommend"])
def similar(svc: Svc, user: User, note_id: str, k: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    """Notes like this one (by the note encoder), among those the caller may see."""
    svc.lib.get_note(note_id, viewer=user)
    return {"note_id": note_id, "items": svc.rec.similar(note_id, k, viewer=user)}


# --- companions -------------------------------------------------------------------------------------------------
class ChatRequest(BaseModel):
    persona: str = Field("pet", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    message: str = Field(min_length=1, max_length=4000)


MAX_COMPANIONS = 64


def personas(svc: Service) -> dict[str, Any]:
    from lingxi.companion import persona

    return persona.available(svc.lib.settings.home / "personas")


def companion(svc: Service, user: str, persona_id: str) -> Any:
    from lingxi.companion.chat import Companion

    found = personas(svc)
    if persona_id not in found:
        raise BadInput(f"persona {persona_id!r} is not one of: {', '.join(found)}")
    # One companion per (user, persona), kept while in use: its background memory worker (one thread) consolidates
    # that user's conversation off the reply path; the least recently used one is closed beyond the cap.
    key = (user, persona_id)
    chat = svc.chat  # (takes svc._lock itself)
    with svc._lock:
        comp = svc.companions.pop(key, None)
        if comp is None:
            comp = Companion(svc.lib, chat, found[persona_id], filters=Filters(viewer=user))
        svc.companions[key] = comp
        evicted = [svc.companions.pop(k) for k in list(svc.companions)[:-MAX_COMPANIONS]]
    for old in evicted:
        old.worker.close()
    return comp


def chat_reply(svc: Service, user: str, persona_id: str, message: str, emit: Emit | None) -> dict[str, Any]:
    comp = companion(svc, user, persona_id)
    on_token = (lambda t: emit("token", {"text": t})) if emit is not None else None
    out: dict[str, Any] = comp.respond(user, message, datetime.now(UTC).replace(tzinfo=None), on_token=on_token)
    return out


@router.get("/personas", tags=["companion"])
def list_personas(svc: Svc, user: User) -> dict[str, Any]:
    return {"personas": [{"id": p.id, "name": p.name, "kind": p.kind, "description": p.description}
                         for p in personas(svc).values()]}


@router.post("/chat", tags=["companion"])
async def chat(svc: Svc, user: User, req: ChatRequest, accept: Annotated[str | None, Header()] = None) -> Response:
    """One message to a persona that remembers the caller → the reply, the memories used and written. With
    ``Accept: text/event-stream`` the reply streams as ``token`` events, then one ``reply`` event."""
    if wants_stream(accept):
        return stream_job(svc.gate, lambda emit: chat_reply(svc, user, req.persona, req.message, emit), "reply")

    def run() -> dict[str, Any]:
        with svc.gate.slot():
            return chat_reply(svc, user, req.persona, req.message, None)

    return JSONResponse(await run_in_threadpool(run))


@router.post("/chat/voice", tags=["companion"])
async def chat_voice(svc: Svc, user: User,
                     audio: Annotated[UploadFile, File(description="the user's spoken message (wav, mp3, m4a, ogg, opus, flac, webm)")],
                     persona: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = "pet",
                     speak: Annotated[bool, Form()] = True) -> JSONResponse:
    """Speech in, speech out: the message is heard with the bundled Whisper (the recogniser voice notes use), the
    persona replies and remembers as on ``/v1/chat``, and (``speak``) the reply is spoken in the persona's voice
    for its language: ``audio_wav_base64`` is a mono 16-bit WAV. An upload with no speech or not audio → 400."""
    import base64
    import tempfile

    from lingxi.companion.voice import AUDIO_SUFFIXES, hear, say
    from lingxi.text import written_in

    name = (audio.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    suffix = Path(name).suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise BadInput(f"audio {name or '(no name)'!r}: not an audio file ({', '.join(AUDIO_SUFFIXES)})")
    limit = svc.config.max_upload_bytes
    with tempfile.TemporaryDirectory(prefix="lingxi-voice-") as tmp:
        src = Path(tmp) / f"in{suffix}"
        size = 0
        with src.open("wb") as out:
            while chunk := await audio.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"{name}: over the {limit}-byte upload limit")
                out.write(chunk)

        def run() -> dict[str, Any]:
            t0 = time.perf_counter()
            comp = companion(svc, user, persona)
            try:
                heard = hear(src, svc.lib.settings.threads, svc.lib.recognizers.asr)
            except BadInput as e:
                raise BadInput(str(e).replace("--voice-in", "audio")) from e
            except Exception as e:  # a file that is not decodable audio
                raise BadInput(f"audio {name!r}: could not be decoded ({type(e).__name__})") from e
            with svc.gate.slot():
                out = chat_reply(svc, user, persona, heard.text, None)
            out["heard"] = {"text": heard.text, "lang": heard.lang, "audio_s": round(heard.audio_seconds, 2),
                            "asr_s": round(heard.seconds, 2)}
            if speak:
                speech = say(out["reply"], written_in(out["reply"]), comp.persona, Path(tmp) / "reply.wav")
                out["voice_out"] = {"voice": speech.voice, "audio_s": round(speech.duration, 2),
                                    "tts_s": round(speech.seconds, 2)}
                out["audio_wav_base64"] = base64.b64encode(speech.wav()).decode("ascii")
            out["round_trip_s"] = round(time.perf_counter() - t0, 2)
            return out

        return JSONResponse(await run_in_threadpool(run))


def memory_store(svc: Service, user: str, persona_id: str) -> Any:
    return companion(svc, user, persona_id).memory(user)


@router.get("/memories", tags=["companion"])
def memories(svc: Svc, user: User, persona: str | None = None, excerpts: bool = True) -> dict[str, Any]:
    """What the companions remember about the caller (one persona, or all); ``excerpts=false`` leaves out the
    conversation excerpts (kind ``observation``) and lists only the readable memories."""
    ids = [persona] if persona else list(personas(svc))
    out = []
    for pid in ids:
        out += [{**m.to_dict(), "persona": pid} for m in memory_store(svc, user, pid).entries(readable=not excerpts)]
    return {"user": user, "memories": out}


@router.delete("/memories/{memory_id}", tags=["companion"])
def forget(svc: Svc, user: User, memory_id: int, persona: str | None = None) -> dict[str, Any]:
    """Forget one of the caller's memories for real (another user's memory is a 404)."""
    for pid in [persona] if persona else list(personas(svc)):
        store = memory_store(svc, user, pid)
        try:
            store.get(memory_id)
        except NotFound:
            continue
        return {"forgotten": store.forget(memory_id).to_dict(), "persona": pid}
    raise NotFound(f"no memory #{memory_id} for user {user!r}")


class MemoryEdit(BaseModel):
    text: str | None = Field(None, min_length=1, max_length=1000)
    importance: int | None = Field(None, ge=1, le=10)
    scope: Literal["persona", "shared"] | None = None


@router.patch("/memories/{memory_id}", tags=["companion"])
def edit_memory(svc: Svc, user: User, memory_id: int, req: MemoryEdit, persona: str | None = None) -> dict[str, Any]:
    """Correct one of the caller's memories: a new text becomes a new memory that supersedes the old one (history
    kept, ``lingxi memory show``); importance and scope (this persona, or shared by all the caller's personas)
    change in place. Another user's memory is a 404."""
    if req.text is None and req.importance is None and req.scope is None:
        raise BadInput("give at least one of text, importance, scope")
    for pid in [persona] if persona else list(personas(svc)):
        store = memory_store(svc, user, pid)
        try:
            store.get(memory_id)
        except NotFound:
            continue
        m = store.edit(memory_id, time.time(), text=req.text, importance=req.importance, scope=req.scope)
        return {"memory": {**m.to_dict(), "persona": pid}}
    raise NotFound(f"no memory #{memory_id} for user {user!r}")


@router.get("/chat/history", tags=["companion"])
def history(svc: Svc, user: User, persona: str = "pet", limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """The caller's recent turns with a persona, oldest first."""
    turns = memory_store(svc, user, persona).recent_turns(limit)
    return {"user": user, "persona": persona,
            "turns": [{"speaker": "user" if s == "user" else "persona", "text": t, "ts": ts} for s, t, ts in turns]}
