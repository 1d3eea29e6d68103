"""The operations service: one Starlette app (served by uvicorn, ``make serve``).

* ``POST /api/v1/sync/{source}`` (operator): 202 with the run id; 409 while a run of the source
  holds its lock;
* ``GET /api/v1/runs/{run_id}``, ``GET /api/v1/runs?source=&limit=`` (viewer or operator);
* ``POST /webhooks/aeries/attendance``: signed attendance change events (:mod:`.webhooks`);
* ``GET /metrics``: Prometheus metrics (:mod:`.metrics`); ``GET /healthz``.

Tokens: ``Authorization: Bearer <token>``, created with ``python -m dlt_pipelines tokens create``.
Errors are JSON: ``{"error": ..., "detail": ...}``.
"""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dlt_pipelines.common import deployment
from dlt_pipelines.common import warehouse as wh
from dlt_pipelines.common.errors import OperatorError
from dlt_pipelines.common.logs import event, get_logger

from . import runs, store, webhooks
from .metrics import ServiceMetrics

log = get_logger("ops_service")

ROLE_RANK = {"viewer": 1, "operator": 2}


def _error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def create_app(warehouse: wh.Warehouse | None = None) -> Starlette:
    runner = runs.Runner(warehouse)
    metrics = ServiceMetrics(warehouse)

    async def authorize(request: Request, role: str) -> JSONResponse | store.Token:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return _error(401, "unauthorized", "send Authorization: Bearer <token>")
        token = await run_in_threadpool(store.authenticate, secret.strip(), warehouse)
        if token is None:
            event(log, "api_refused", reason="unknown or revoked token", path=request.url.path)
            return _error(401, "unauthorized", "the token is unknown or revoked")
        if ROLE_RANK[token.role] < ROLE_RANK[role]:
            event(log, "api_refused", reason="role", token_id=token.token_id, path=request.url.path)
            return _error(403, "forbidden", f"this endpoint needs the {role} role; the token is {token.role}")
        return token

    async def sync(request: Request) -> Response:
        token = await authorize(request, "operator")
        if isinstance(token, JSONResponse):
            return token
        source = request.path_params["source"]
        if source not in deployment.ALL_SOURCES:
            return _error(
                404, "not_found", f"unknown source; choose one of {', '.join(deployment.ALL_SOURCES)}"
            )
        try:
            child = await run_in_threadpool(runner.start, source)
        except runs.Busy:
            return _error(
                409,
                "conflict",
                f"a {source} run holds the source's lock; see GET /api/v1/runs?source={source}",
            )
        event(log, "api_sync", source=source, run_id=child.run_id, token_id=token.token_id)
        return JSONResponse(
            {
                "run_id": child.run_id,
                "source": source,
                "status": "started",
                "url": f"/api/v1/runs/{child.run_id}",
            },
            status_code=202,
        )

    async def run_detail(request: Request) -> Response:
        token = await authorize(request, "viewer")
        if isinstance(token, JSONResponse):
            return token
        run_id = request.path_params["run_id"]
        found = await run_in_threadpool(runs.get_run, run_id, warehouse) or runner.describe(run_id)
        if found is None:
            return _error(404, "not_found", "no run has this id")
        return JSONResponse(found)

    async def run_list(request: Request) -> Response:
        token = await authorize(request, "viewer")
        if isinstance(token, JSONResponse):
            return token
        source = request.query_params.get("source") or None
        if source is not None and source not in deployment.ALL_SOURCES:
            return _error(400, "bad_request", f"source must be one of {', '.join(deployment.ALL_SOURCES)}")
        try:
            limit = min(max(int(request.query_params.get("limit", "50")), 1), 500)
        except ValueError:
            return _error(400, "bad_request", "limit must be a number")
        found = await run_in_threadpool(runs.list_runs, source, limit, warehouse)
        return JSONResponse({"runs": found})

    async def attendance_webhook(request: Request) -> Response:
        body = await request.body()
        try:
            secret = webhooks.webhook_secret()
        except OperatorError as exc:
            event(log, "webhook_unconfigured", detail=exc.message)
            return _error(503, "unavailable", "the webhook secret is not configured on this service")
        if len(body) > 64 * 1024:
            return _error(413, "too_large", "one event per delivery, at most 64 KiB")
        outcome = await run_in_threadpool(
            webhooks.process,
            body,
            request.headers.get(webhooks.SIGNATURE_HEADER),
            secret,
            warehouse=warehouse,
        )
        metrics.webhooks.labels(outcome.body.get("status") or outcome.body.get("error", "error")).inc()
        return JSONResponse(outcome.body, status_code=outcome.status)

    async def metrics_endpoint(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        data = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/api/v1/sync/{source}", sync, methods=["POST"]),
        Route("/api/v1/runs/{run_id}", run_detail, methods=["GET"]),
        Route("/api/v1/runs", run_list, methods=["GET"]),
        Route("/webhooks/aeries/attendance", attendance_webhook, methods=["POST"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]

    async def count_requests(request: Request, call_next):
        response = await call_next(request)
        route = next((r.path for r in routes if r.matches(request.scope)[0].name == "FULL"), "other")
        metrics.http.labels(route, str(response.status_code)).inc()
        return response

    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        runner.stop_all()  # the on-demand runs end with the service

    app = Starlette(
        routes=routes,
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=count_requests)],
        lifespan=lifespan,
    )
    app.state.runner = runner
    return app
