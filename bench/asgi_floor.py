"""The cheapest possible answer through the benchmark's HTTP stack: a bare ASGI application (no
Django, no database) that answers every request with ``{"status": "ok"}``. Served by
``bench/serve_uvicorn.py --app bench.asgi_floor:application``, it measures what uvicorn and the load
generator alone cost on this machine, the ceiling no application served this way can pass."""

from __future__ import annotations

from typing import Any

BODY = b'{"status": "ok"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while True:  # drain the request body
        message = await receive()
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
