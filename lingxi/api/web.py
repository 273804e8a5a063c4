"""The web app: one server-rendered page and the HTML fragments htmx swaps into it.

Fragments take the same API key as /v1 (the page sends it as a Bearer header) and call the same library methods
with the caller passed down. Ask and chat stream from /v1 (server-sent events) through the page's small script."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from lingxi.api.app import Service
from lingxi.api.v1 import User, memory_store, personas, service
from lingxi.errors import LingxiError, NotFound
from lingxi.index.filters import Filters
from lingxi.search.hybrid import MAX_QUERY_CHARS
from lingxi.types import FileReport

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
Svc = Annotated[Service, Depends(service)]

LANGS = ("zh", "en")
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "lingxi", "tagline": "search, ask, discover and chat over your notes",
        "key": "API key", "login": "Log in", "logout": "Log out", "bad_key": "That key was not accepted.",
        "signed_in": "Signed in as", "search": "Search", "search_ph": "Search your notes…", "ask": "Ask",
        "ask_ph": "Ask a question about the notes…", "steps": "Steps", "answer": "Answer", "sources": "Sources",
        "upload": "Upload", "drop": "Drop files here, or click to choose", "visibility": "Visibility",
        "private": "private (only me)", "public": "public (everyone)", "for_you": "For you", "why": "why",
        "explore": "exploring", "companion": "Companion", "chat_ph": "Say something…", "send": "Send",
        "memories": "What it remembers", "forget": "Delete", "no_memories": "Nothing remembered yet.",
        "edit": "Edit", "save": "Save", "show_excerpts": "Show the conversation excerpts",
        "hide_excerpts": "Hide the conversation excerpts",
        "no_hits": "No notes match.", "no_recs": "No recommendations yet: upload or open some notes.",
        "note": "Note", "at": "at", "status_ingested": "ingested", "status_unchanged": "unchanged",
        "status_failed": "failed", "notes": "notes", "chunks": "passages", "persona": "Persona", "lang": "中文",
        "thinking": "working…", "close": "Close",
    },
    "zh": {
        "title": "灵犀", "tagline": "在你的笔记里搜索、提问、发现与聊天",
        "key": "API 密钥", "login": "登录", "logout": "退出", "bad_key": "密钥无效。",
        "signed_in": "已登录：", "search": "搜索", "search_ph": "搜索笔记…", "ask": "提问",
        "ask_ph": "就笔记内容提一个问题…", "steps": "步骤", "answer": "回答", "sources": "出处",
        "upload": "上传", "drop": "把文件拖到这里，或点击选择", "visibility": "可见性",
        "private": "私密（仅自己）", "public": "公开（所有人）", "for_you": "推荐", "why": "理由",
        "explore": "探索", "companion": "陪伴", "chat_ph": "说点什么…", "send": "发送",
        "memories": "它记得的事", "forget": "删除", "no_memories": "还没有记住任何事。",
        "edit": "修改", "save": "保存", "show_excerpts": "显示对话摘录", "hide_excerpts": "隐藏对话摘录",
        "no_hits": "没有匹配的笔记。", "no_recs": "暂无推荐：先上传或打开一些笔记。",
        "note": "笔记", "at": "位置", "status_ingested": "已导入", "status_unchanged": "未变化",
        "status_failed": "失败", "notes": "篇笔记", "chunks": "个段落", "persona": "角色", "lang": "English",
        "thinking": "处理中…", "close": "关闭",
    },
}
_MARK = re.compile(r"【(.+?)】")


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get("lang")
    if asked in LANGS:
        return asked
    accept = request.headers.get("accept-language", "")
    return "zh" if accept.lower().startswith("zh") else "en"


def marked(snippet: str) -> Markup:
    """A search snippet as HTML: escaped, with the matched terms (【】 from the searcher) in <mark>."""
    return Markup(_MARK.sub(lambda m: f"<mark>{m.group(1)}</mark>", str(escape(snippet))))


def render(request: Request, name: str, **ctx: Any) -> HTMLResponse:
    lang = lang_of(request)
    resp = templates.TemplateResponse(request, name, {"t": TEXT[lang], "lang": lang, "marked": marked, **ctx})
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return resp


@router.get("/", response_class=HTMLResponse)
def index(request: Request, svc: Svc) -> HTMLResponse:
    return render(request, "index.html", personas=list(personas(svc).values()))


@router.get("/ui/search", response_class=HTMLResponse)
def ui_search(request: Request, svc: Svc, user: User, q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "") -> HTMLResponse:
    res = svc.lib.search_results(q, k=10, mode=svc.search_mode(), filters=Filters(viewer=user)) if q.strip() else None
    return render(request, "hits.html", hits=list(res.hits) if res else [], q=q,
                  summary=res.summary().replace("; --per-note to show more", "") if res and res.hits else "")


@router.get("/ui/notes/{note_id}", response_class=HTMLResponse)
def ui_note(request: Request, svc: Svc, user: User, note_id: str, chunk: str = "", quote: str = "") -> HTMLResponse:
    note = svc.lib.get_note(note_id, viewer=user)
    owner, visibility = svc.lib.store.access(note_id)
    return render(request, "note.html", note=note, target=chunk, quote=quote, owner=owner, visibility=visibility)


@router.post("/ui/files", response_class=HTMLResponse)
async def ui_upload(request: Request, svc: Svc, user: User, files: Annotated[list[UploadFile], File()],
                    visibility: Annotated[str, Form()] = "private") -> HTMLResponse:
    reports = []
    limit = svc.config.max_upload_bytes
    for f in files:
        data = await f.read(limit + 1)
        name = (f.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
        if len(data) > limit:
            reports.append(FileReport(name, "failed", reason=f"over the {limit}-byte upload limit"))
            continue
        reports.append(await run_in_threadpool(svc.lib.ingest_upload, data, name, user, visibility))
    return render(request, "uploads.html", reports=reports)


@router.get("/ui/recommendations", response_class=HTMLResponse)
def ui_recommendations(request: Request, svc: Svc, user: User) -> HTMLResponse:
    from lingxi.api.v1 import recommendations

    try:
        out = recommendations(svc, user, k=12, explore=0.25)
        items, error = out["items"], ""
    except LingxiError as e:
        items, error = [], str(e)
    return render(request, "recs.html", items=items, error=error)


def memory_panel(request: Request, store: Any, persona: str, excerpts: bool, error: str | None = None
                 ) -> HTMLResponse:
    """The memory panel: the readable memories; the conversation excerpts they were drawn from on request."""
    everything = store.entries()
    shown = everything if excerpts else [m for m in everything if m.kind != "observation"]
    return render(request, "memories.html", memories=shown, persona=persona, excerpts=excerpts, error=error,
                  n_excerpts=sum(m.kind == "observation" for m in everything))


def panel_store(svc: Service, user: str, persona: str) -> Any:
    if persona not in personas(svc):
        raise NotFound(f"no persona {persona!r}")
    return memory_store(svc, user, persona)


@router.get("/ui/memories", response_class=HTMLResponse)
def ui_memories(request: Request, svc: Svc, user: User, persona: str = "pet", excerpts: bool = False) -> HTMLResponse:
    return memory_panel(request, panel_store(svc, user, persona), persona, excerpts)


@router.patch("/ui/memories/{memory_id}", response_class=HTMLResponse)
def ui_edit_memory(request: Request, svc: Svc, user: User, memory_id: int,
                   text: Annotated[str, Form(max_length=1000)], persona: str = "pet",
                   excerpts: bool = False) -> HTMLResponse:
    """Correct a memory's wording: the new text supersedes the old one (kept as its history)."""
    store = panel_store(svc, user, persona)
    error = None
    try:
        store.edit(memory_id, time.time(), text=text)
    except NotFound:
        raise
    except LingxiError as e:  # an empty text: the list stays as it was, with the reason
        error = str(e)
    return memory_panel(request, store, persona, excerpts, error)


@router.delete("/ui/memories/{memory_id}", response_class=HTMLResponse)
def ui_forget(request: Request, svc: Svc, user: User, memory_id: int, persona: str = "pet",
              excerpts: bool = False) -> HTMLResponse:
    store = panel_store(svc, user, persona)
    store.forget(memory_id)
    return memory_panel(request, store, persona, excerpts)
