"""The dashboard's web application: one HTML page, its script and style, and JSON endpoints.

Everything the page needs is served from this package (``static/``): no asset comes from the
network. Reads are plain GETs the page polls; a rollout command is a POST that goes through
:func:`kfops.dashboard.access.decide` and then the steering function the command line gave,
the same one ``kfops rollout <command>`` runs. Errors answer ``{"error": "<one line>"}`` with
the error class's HTTP status; the page shows the line, never a stack trace.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kfops.config import KfopsConfig
from kfops.dashboard.access import ActionPolicy, decide, user_from_headers
from kfops.dashboard.drift import drift_history
from kfops.dashboard.kfp_runs import kfp_runs
from kfops.dashboard.models import MEDIA_TYPES, artifact_file, model_versions
from kfops.dashboard.rollouts import COMMANDS
from kfops.dashboard.runs import local_runs
from kfops.dashboard.serving import serving_figures
from kfops.errors import KfopsError, one_line

STATIC = Path(__file__).with_name("static")
ACTION_HEADER = "x-kfops-action"
"""Sent by the page's script with every command: a cross-site form cannot set it, and no
CORS header lets another origin's script do so."""
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
log = logging.getLogger(__name__)


class RolloutSource(Protocol):
    def list(self) -> list[dict[str, Any]]: ...
    def get(self, name: str) -> dict[str, Any]: ...
    def exists(self, name: str) -> bool: ...


Steer = Callable[..., None]
"""``steer(name, command, user, **arguments)``: carry a command out (the CLI's path)."""


@dataclass
class Dashboard:
    """What one dashboard shows and may do."""

    cfg: KfopsConfig
    rollouts: RolloutSource
    policy: ActionPolicy = field(default_factory=ActionPolicy)
    steer: Steer | None = None
    prometheus: str | None = None
    can_patch: Callable[[str, str], bool] = lambda user, name: False
    kfp_host: str | None = None
    kfp_namespace: str | None = None
    rollouts_for: Callable[[str], RolloutSource] | None = None
    """In the cluster: the rollouts as one user may read them (impersonated reads)."""


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they travel as null (a ratio over no requests)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _json(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(_finite(payload), status_code=status, headers={"cache-control": "no-store"})


def _error(message: str, status: int) -> JSONResponse:
    return _json({"error": message}, status)


def build_app(board: Dashboard) -> Starlette:
    """The ASGI application for ``board``."""
    cfg = board.cfg

    def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)

    def settings(request: Request) -> Response:
        return _json(
            {
                "project": cfg.project,
                "model": cfg.model_name,
                "allow_actions": board.policy.allow_actions,
                "cluster": board.policy.cluster,
                "prometheus": board.prometheus or "",
                "commands": list(COMMANDS),
            }
        )

    def runs(request: Request) -> Response:
        if board.kfp_host:
            found = kfp_runs(board.kfp_host, board.kfp_namespace)
            message = "" if found else f"no runs yet on KFP at {board.kfp_host}"
            return _json({"runs": found, "message": message, "source": board.kfp_host})
        found = local_runs(cfg.state_dir)
        message = (
            "" if found else f"no runs yet in {cfg.state_dir / 'runs'}: `kfops run` starts one"
        )
        return _json({"runs": found, "message": message, "source": "local"})

    def models(request: Request) -> Response:
        return _json(model_versions(cfg))

    def source(request: Request) -> RolloutSource | Response:
        """The rollouts this request may see: locally all of them; in the cluster, read as
        the signed-in user, so a page shows only what that user's RBAC lets them read."""
        if board.rollouts_for is None:
            return board.rollouts
        user = user_from_headers(request.headers, board.policy)
        if user is None:
            header = board.policy.user_header
            return _error(
                f"no user: the request has no {header} header; open the dashboard "
                "through the Kubeflow central dashboard",
                401,
            )
        return board.rollouts_for(user)

    def rollouts(request: Request) -> Response:
        found = source(request)
        if isinstance(found, Response):
            return found
        listed = found.list()
        message = "" if listed else "no rollout yet: `kfops rollout start` starts one"
        return _json({"rollouts": listed, "message": message})

    def rollout(request: Request) -> Response:
        name, found = request.path_params["name"], source(request)
        if isinstance(found, Response):
            return found
        if not found.exists(name):
            known = ", ".join(row["name"] for row in found.list()) or "none"
            return _error(f"no rollout named {name!r} (known: {known})", 404)
        return _json(found.get(name))

    async def command(request: Request) -> Response:
        name, verb = request.path_params["name"], request.path_params["command"]
        if request.headers.get(ACTION_HEADER) != "1":
            return _error(f"a command needs the {ACTION_HEADER} header the page sends", 403)
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            return _error("the command's body is not JSON", 400)
        user = user_from_headers(request.headers, board.policy)
        decision = decide(board.policy, verb, user, lambda who: board.can_patch(who, name))
        if not decision.allowed or board.steer is None:
            return _error(decision.reason, 403)
        arguments = _arguments(verb, body if isinstance(body, dict) else {})
        if isinstance(arguments, str):
            return _error(arguments, 400)
        from starlette.concurrency import run_in_threadpool

        found = source(request)
        if isinstance(found, Response):
            return found
        if not await run_in_threadpool(found.exists, name):
            return _error(f"no rollout named {name!r}", 404)
        await run_in_threadpool(board.steer, name, verb, decision.user, **arguments)
        log.info("%s %s by %s", verb, name, decision.user or "the local user")
        return _json(await run_in_threadpool(found.get, name))

    def drift(request: Request) -> Response:
        return _json(drift_history(cfg))

    def serving(request: Request) -> Response:
        return _json(serving_figures(board.prometheus))

    def artifact(request: Request) -> Response:
        folder = tempfile.TemporaryDirectory(prefix="kfops-dashboard-")
        path = artifact_file(
            cfg, request.path_params["run_id"], request.path_params["path"], Path(folder.name)
        )
        if path is None or not path.is_file():
            folder.cleanup()
            return _error("no such plot or statistics page of a registered version", 404)
        media = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media, background=BackgroundTask(folder.cleanup))

    def healthz(request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    async def kfops_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KfopsError)
        return _error(exc.message, exc.http_status)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("dashboard: %s failed", request.url.path)
        return _error(f"{request.url.path}: {one_line(exc)}", 500)

    routes = [
        Route("/", page),
        Route("/healthz", healthz),
        Route("/api/settings", settings),
        Route("/api/runs", runs),
        Route("/api/models", models),
        Route("/api/rollouts", rollouts),
        Route("/api/rollouts/{name}", rollout),
        Route("/api/rollouts/{name}/{command}", command, methods=["POST"]),
        Route("/api/drift", drift),
        Route("/api/serving", serving),
        Route("/artifacts/{run_id}/{path:path}", artifact),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes, exception_handlers={KfopsError: kfops_error, Exception: unexpected}
    )


def _arguments(command: str, body: dict[str, Any]) -> dict[str, Any] | str:
    """The command's arguments from the POST body, checked as the CLI checks them."""
    if command == "set-weight":
        weight = body.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            return f"set-weight: weight {weight!r} is outside 0..100"
        return {"weight": weight}
    if command == "promote" and body.get("full") is True:
        return {"full": True}
    return {}


def warm_up(board: Dashboard) -> None:
    """Read the registry once before anyone asks: MLflow's import and the store's first open
    take about 3 s here, which the first page load would otherwise wait for."""
    try:
        model_versions(board.cfg)
    except Exception as exc:  # the page reports it when asked; a warm-up only warms
        log.debug("dashboard warm-up: %s", one_line(exc))
