"""``uvicorn weifei.asgi:application --workers N``, with TCP_NODELAY on every connection.

Why not the plain command: uvicorn 0.54 binds the ``--workers`` listener with
``socket.socket(family=AF_INET)``, so its ``proto`` is 0; accepted connections inherit that,
and asyncio only sets TCP_NODELAY when ``proto == IPPROTO_TCP``. Nagle's algorithm then holds
the response body (written after the headers) until the client ACKs the headers, which Linux
delays by ~40 ms: every keep-alive request after the first costs ~40-50 ms, whatever the view
does (Kludex/uvicorn#3149, open; fix proposed in #3154). ``--workers 1`` is not affected.

This launcher is uvicorn's own multi-worker path (``Multiprocess`` supervisor), with the
listener bound as IPPROTO_TCP, which is exactly the upstream fix. Server and application are
otherwise unchanged. ``python -m bench.serve_uvicorn --port 8000 --workers 2``
"""

from __future__ import annotations

import argparse
import socket

from uvicorn import Config
from uvicorn.supervisors import Multiprocess

APP = "weifei.asgi:application"


def listener(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--app", default=APP, help="ASGI application (bench.asgi_floor:application: no Django)")
    args = parser.parse_args(argv)
    config = Config(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        lifespan="off",
        log_level="warning",
    )
    Multiprocess(config, sockets=[listener(args.host, args.port)]).run()


if __name__ == "__main__":
    main()
