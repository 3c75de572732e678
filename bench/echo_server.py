"""The floor: a bare python-socketio server that speaks the widget's events
and sends every text straight back (no storage, no bot).

    .venv/bin/python -m bench.echo_server --port 5100
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio
from aiohttp import web


def make_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)

    @sio.on("session_request")
    async def session_request(sid: str, data: Any) -> None:
        await sio.emit("session_confirm", (data or {}).get("session_id"), to=sid)

    @sio.on("user_uttered")
    async def user_uttered(sid: str, data: Any) -> dict[str, Any]:
        await sio.emit("bot_uttered", {"text": data.get("message")}, to=sid)
        return {"ok": True, "client_id": data.get("client_id")}

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
