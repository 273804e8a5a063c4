"""The FastAPI app: settings, the caller from the API key, typed errors as JSON, and the routes' shared state.

The app is thin: request models validate, ``caller`` resolves who is asking from the key, and the library does the
work with that user passed down (visibility filters, memories, events)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from lingxi import __version__
from lingxi.api.gate import LLMGate
from lingxi.config import _env_int, _env_num
from lingxi.errors import (
    BackendUnavailable,
    BadInput,
    Busy,
    LingxiError,
    ModelOutputError,
    NotFound,
    PermissionDenied,
)
from lingxi.library import Library, make_chat
from lingxi.llm.chat import ChatModel

STATIC = Path(__file__).parent / "static"

STATUS: dict[type[LingxiError], int] = {
    BadInput: 400,
    PermissionDenied: 403,
    NotFound: 404,
    Busy: 503,
    ModelOutputError: 502,
    BackendUnavailable: 503,
}


@dataclass(frozen=True)
class ServerConfig:
    """Limits of the service; each has an environment variable."""

    queue_depth: int = 8  # LINGXI_QUEUE_DEPTH: requests that may wait for the LLM
    queue_wait_s: float = 60.0  # LINGXI_QUEUE_WAIT: how long one may wait before it is turned away
    ask_timeout_s: float = 120.0  # LINGXI_ASK_TIMEOUT: the agent's time budget per question
    max_upload_bytes: int = 20 * 1024 * 1024  # LINGXI_MAX_UPLOAD: larger uploads get 413

    @classmethod
    def load(cls, **overrides: Any) -> ServerConfig:
        c = cls(
            queue_depth=_env_int("LINGXI_QUEUE_DEPTH", cls.queue_depth),
            queue_wait_s=_env_num("LINGXI_QUEUE_WAIT", cls.queue_wait_s, float),
            ask_timeout_s=_env_num("LINGXI_ASK_TIMEOUT", cls.ask_timeout_s, float),
            max_upload_bytes=_env_int("LINGXI_MAX_UPLOAD", cls.max_upload_bytes),
        )
        c = replace(c, **{k: v for k, v in overrides.items() if v is not None})
        if c.queue_depth < 0 or c.queue_wait_s <= 0 or c.ask_timeout_s <= 0 or c.max_upload_bytes < 1:
            raise BadInput(f"server limits must be positive: {c}")
        return c


class Service:
    """What every route shares: the library, the one chat model behind its gate, the recommender's cache."""

    def __init__(self, lib: Library, config: ServerConfig, chat: ChatModel | None = None) -> None:
        self.lib = lib
        self.config = config
        self.gate = LLMGate(config.queue_depth, config.queue_wait_s)
        self._chat = chat
        self._rec: Any = None
        self._lock = threading.Lock()
        self.companions: OrderedDict[tuple[str, str], Any] = OrderedDict()  # (user, persona) -> Companion

    def prepare(self) -> None:
        """Create every table the routes use before serving: creating one runs a script that commits, which must
        not happen while another request's transaction is open on the shared connection."""
        from lingxi.companion.memory import ensure_schema

        with self.lib.store._lock:
            ensure_schema(self.lib.conn)
            self.lib.users()
            _ = self.rec

    @property
    def chat(self) -> ChatModel:
        with self._lock:
            if self._chat is None:
                self._chat = make_chat(self.lib.settings)
            return self._chat

    @property
    def rec(self) -> Any:
        with self._lock:
            if self._rec is None:
                from lingxi.rec.service import RecService

                self._rec = RecService(self.lib)
            return self._rec

    def search_mode(self) -> str:
        """The default search mode: hybrid when this store has an embedder."""
        return self.lib.default_mode()


def error_body(kind: str, detail: Any) -> dict[str, Any]:
    return {"error": kind, "detail": detail}


def lingxi_error_response(e: LingxiError) -> JSONResponse:
    status = next((code for cls, code in STATUS.items() if isinstance(e, cls)), 400)
    headers = {"Retry-After": str(int(e.retry_after))} if isinstance(e, Busy) else None
    return JSONResponse(error_body(type(e).__name__, str(e)), status_code=status, headers=headers)


def create_app(lib: Library, config: ServerConfig | None = None, chat: ChatModel | None = None) -> FastAPI:
    """The app over ``lib``. ``chat`` replaces the configured model (tests pass a scripted one)."""
    from lingxi.api import v1, web
    from lingxi.api.openai_compat import router as openai_router

    svc = Service(lib, config or ServerConfig.load(), chat)
    app = FastAPI(title="lingxi", version=__version__, docs_url=None, redoc_url=None,
                  description="Search, a search agent with citations, recommendations and companions over a notes "
                              "community. Every /v1 call needs `Authorization: Bearer KEY` (`lingxi users add NAME`).")
    svc.prepare()
    app.state.svc = svc

    @app.middleware("http")
    async def refuse_oversized_uploads(request: Request, call_next: Any) -> Any:
        """Turn away an upload whose declared size is over the limit before its body is read (a body without a
        declared size is still cut off by the route as it is read)."""
        limit = svc.config.max_upload_bytes
        allowed = {"/v1/files": limit + (1 << 20), "/ui/files": 20 * limit + (1 << 20)}.get(request.url.path)
        size = request.headers.get("content-length", "")
        if request.method == "POST" and allowed is not None and size.isdigit() and int(size) > allowed:
            return JSONResponse(error_body("TooLarge", f"the upload is {size} bytes; the limit is {limit} bytes a file"),
                                status_code=413)
        return await call_next(request)

    @app.exception_handler(LingxiError)
    async def on_lingxi_error(request: Request, e: LingxiError) -> JSONResponse:
        return lingxi_error_response(e)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, e: RequestValidationError) -> JSONResponse:
        parts = []
        for err in e.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{where}: {err.get('msg')}")
        return JSONResponse(error_body("BadInput", "; ".join(parts) or "invalid request"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        kind = {401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed", 413: "TooLarge"}.get(e.status_code, "HTTPError")
        return JSONResponse(error_body(kind, e.detail), status_code=e.status_code, headers=getattr(e, "headers", None))

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness, with the LLM queue's state (no key needed)."""
        return {"ok": True, "version": __version__, "llm_queue": svc.gate.stats()}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from the vendored files (no CDN: the page works offline)."""
        return get_swagger_ui_html(openapi_url="/openapi.json", title="lingxi API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css", swagger_favicon_url="data:,")

    app.include_router(v1.router)
    app.include_router(openai_router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
