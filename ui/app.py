"""The one server: FastAPI with the JSON API, the OpenAI-compatible API, the widget script and
the Gradio chat (full page at /chat/, compact view for the widget at /widget/)."""

from __future__ import annotations

import logging
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from qa.pipeline import Answerer
from recordqa.settings import Settings
from ui import api, feedback_api, openai_api
from ui.access_log import RequestObserver
from ui.api_schema import document_errors
from ui.errors import install_error_handlers
from ui.metrics import Metrics
from ui.request_guard import RequestGuard
from ui.service import Service

STATIC = Path(__file__).parent / "static"


def index_build_time(answerer: Answerer) -> float | None:
    """When the loaded build was written (its manifest's modification time), or None if unknown."""
    folder = getattr(getattr(answerer, "index", None), "folder", None)
    try:
        return (Path(folder) / "manifest.json").stat().st_mtime if folder is not None else None
    except OSError:
        return None


def create_app(settings: Settings, answerer: Answerer, *, with_chat: bool = True) -> FastAPI:
    service = Service.create(settings, answerer)
    app = FastAPI(
        docs_url=None,  # served below from local files: the default page loads Swagger UI from a CDN
        redoc_url=None,
        title="RecordQA",
        version="0.1.0",
        description="Cited answers from UN meeting records. Errors are JSON: "
        '`{"error": {"message", "type", "code"}}`. `/v1/chat/completions` is OpenAI-compatible and adds '
        "`citations` and `recordqa` (the `/api/ask` answer JSON) to each completion.",
    )
    app.state.service = service
    metrics = Metrics()
    app.state.metrics = metrics
    service.metrics = metrics
    metrics.index_built_at(lambda: index_build_time(service.answerer))
    install_error_handlers(app)
    document_errors(app, [api.router, openai_api.router])

    # Our own CORS middleware makes Gradio skip its echo-any-origin CORS on the mounted chat.
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=service.policy.origin_regex(),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key"],
        allow_credentials=False,
        max_age=600,
    )
    frame_ancestors = service.policy.frame_ancestors()

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        # Browsers refuse to render any page of ours inside a frame of an origin not listed here.
        response.headers["Content-Security-Policy"] = frame_ancestors
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    app.include_router(api.router)
    app.include_router(openai_api.router)
    app.include_router(feedback_api.router)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.get("/embed.js", include_in_schema=False)
    def embed_js() -> FileResponse:
        return FileResponse(STATIC / "embed.js", media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "public, max-age=300"})

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title="RecordQA API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js", swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> RedirectResponse:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/chat/{query}")

    if with_chat:
        from ui.chat import mount_chat

        mount_chat(app, service)
    # Added last, so they run first: the observer sees every answer, refusals included.
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, body_timeout_s=settings.body_timeout_s,
                       max_in_flight=settings.max_requests_in_flight, on_refused=metrics.refused)
    app.add_middleware(RequestObserver, metrics=metrics, log_questions=settings.log_questions,
                       log=logging.getLogger("recordqa.access") if settings.access_log else None)
    return app
