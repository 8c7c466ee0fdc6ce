"""The OpenAPI document, completed with every error the server can answer, in the one error shape
(FastAPI documents only its own 422 body, which this server never sends)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute, APIRouter

from ui.api import require_key
from ui.errors import ErrorBody

REF = "#/components/schemas/ErrorBody"
REASONS = {
    "400": "The request body is not JSON, or the question (or message list) is refused: blank, too long for the "
           "configured limit, markup or control characters, last message not the user's.",
    "401": "API keys are configured and none was presented (Authorization: Bearer <key> or X-API-Key).",
    "404": "No such item.",
    "408": "The request body did not arrive in time (body_timeout_s).",
    "413": "The request body is over max_body_bytes (refused from Content-Length, unread), or a field is over "
           "its documented length.",
    "422": "A field is missing or of the wrong type or value.",
    "429": "This client's question budget is used up; see Retry-After.",
    "503": "The server is handling as many requests as it can (max_requests_in_flight); see Retry-After.",
}
STATUS_503 = {"/healthz": "Not ready (the status JSON, `ready` false) or overloaded (the error JSON)."}
# Before OpenAPI 3.2 (FastAPI writes 3.1) the schema of an event stream describes each event.
EVENT_STREAM = {"text/event-stream": {"schema": {
    "type": "object", "required": ["data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string", "description": "JSON, or [DONE]"}},
}}}


def _protected(route: APIRoute) -> bool:
    return any(dependency.call is require_key for dependency in route.dependant.dependencies)


def _error_statuses(route: APIRoute, method: str) -> list[str]:
    statuses = ["503"]
    if route.body_field is not None:
        statuses += ["400", "408", "413", "422"]
    if route.dependant.query_params or route.dependant.path_params:
        statuses.append("422")
    if route.dependant.path_params:
        statuses.append("404")
    if _protected(route):
        statuses.append("401")
        if method == "post":
            statuses.append("429")  # every keyed POST asks a question and so spends the budget
    return sorted(set(statuses))


def _api_routes(routes: list) -> list:
    """Routes, with those of included routers (FastAPI keeps them behind ``original_router``)."""
    found = []
    for route in routes:
        router = route if isinstance(route, APIRouter) else getattr(route, "original_router", None)
        found.extend(_api_routes(list(router.routes)) if router is not None else [route])
    return found


def document_errors(app: FastAPI, routers: list[APIRouter]) -> None:
    """Make ``app.openapi()`` list, per operation, the error statuses it can answer (``routers``: those
    included in the app, since FastAPI keeps included routes out of ``app.routes``)."""

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes, tags=app.openapi_tags, servers=app.servers)
        routes = {route.path: route for route in _api_routes([*app.routes, *routers])
                  if isinstance(route, APIRoute)}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                route = routes.get(path)
                if route is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in _error_statuses(route, method):
                    if status in (route.responses or {}):
                        continue  # the route documents this status itself
                    if status == "503" and path in STATUS_503:
                        responses[status] = {"description": STATUS_503[path]}
                        continue
                    responses[status] = {"description": REASONS[status],
                                         "content": {"application/json": {"schema": {"$ref": REF}}}}
                ok = responses.get("200", {})
                # An unset response class is a DefaultPlaceholder wrapping the app's default.
                response_class = getattr(route.response_class, "value", route.response_class)
                if isinstance(response_class, type) and issubclass(response_class, StreamingResponse):
                    ok["content"] = EVENT_STREAM
                elif path == "/v1/chat/completions":
                    # "stream": true answers as server-sent events.
                    ok.setdefault("content", {}).update(EVENT_STREAM)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components["ErrorBody"] = body
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
