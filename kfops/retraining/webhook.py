"""The HTTP receiver Alertmanager posts to (``webhook_configs``), for ``kfops webhook``.

``POST /alerts`` with ``Authorization: Bearer <secret>`` (Alertmanager's
``http_config.authorization``); anything else is 401 and starts nothing. A body that is
not Alertmanager's payload is 400. A run that could not be started is 502, so
Alertmanager retries the notification; the cool-down starts only with a started run.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kfops.errors import KfopsError, one_line
from kfops.retraining.alerts import AlertGroup
from kfops.retraining.trigger import RetrainingTrigger

log = logging.getLogger("kfops.webhook")
MAX_BODY_BYTES = 1 << 20


def _authorised(request: Request, secret: str) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), secret.encode())


def build_app(
    trigger: RetrainingTrigger, secret: str, on_decision: Callable[[dict], None] = log.info
) -> Starlette:
    if not secret:
        raise ValueError("a webhook without a secret would let anyone start runs")

    async def alerts(request: Request) -> JSONResponse:
        if not _authorised(request, secret):
            return JSONResponse(
                {
                    "error": "missing or wrong bearer token (Alertmanager: http_config.authorization)"
                },
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body over 1 MiB"}, status_code=413)
        try:
            group = AlertGroup.model_validate(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "body"
            message = f"not an Alertmanager notification: {where}: {exc.errors()[0]['msg']}"
            return JSONResponse({"error": message}, status_code=400)
        try:
            decision = trigger.handle(group)
        except KfopsError as exc:
            message = f"retraining not started: {one_line(exc)}"
            on_decision({"started": False, "error": message, "group_key": group.group_key})
            return JSONResponse({"error": message}, status_code=502)
        on_decision(decision.as_dict())
        return JSONResponse(decision.as_dict())

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "last_run_id": trigger.last_run_id})

    return Starlette(routes=[Route("/alerts", alerts, methods=["POST"]), Route("/healthz", health)])
