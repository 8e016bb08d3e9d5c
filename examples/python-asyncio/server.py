#!/usr/bin/env python3
"""A stdlib-only asyncio chat server with the seed's bug, for racegate.

The bug (default): the connection pool's asyncio.Lock is created at import
time and first *waited on* in a start-up event loop (a warm-up that runs
two tasks against it), which binds it to that loop. The server then serves
on a new loop: sequential requests never wait for the lock and pass;
concurrent ones wait, and asyncio raises
"... is bound to a different event loop" -> 500.

--fixed: the lock is created lazily, inside the loop that serves (and
re-created if the loop changes), guarded by a threading.Lock -- the seed's fix.

    python3 server.py --port 8080 [--fixed]

Endpoints: POST /api/chat {"message": str} -> 200 {"response": str,
"conversation_id": str}; GET /healthz -> 200 {"status": "ready"}.
Every client mistake is a 4xx with {"error": {...}}.
"""

import argparse
import asyncio
import json
import threading
import uuid


class ConnectionPool:
    """One 'connection' guarded by an asyncio.Lock, as the seed's pool was."""

    def __init__(self, fixed):
        self.fixed = fixed
        self._init_lock = threading.Lock()
        self._loop = None
        # The bug: created now, at import/start-up time.
        self._lock = None if fixed else asyncio.Lock()

    def lock(self):
        if not self.fixed:
            return self._lock
        loop = asyncio.get_running_loop()
        with self._init_lock:
            if self._lock is None or self._loop is not loop:
                self._lock = asyncio.Lock()
                self._loop = loop
            return self._lock

    async def query(self, message):
        async with self.lock():
            # Hold the "connection" briefly, as a database call would.
            await asyncio.sleep(0.005)
            return f"you said: {message}"


POOL = None


async def warm_up():
    """Start-up work on a short-lived loop: two tasks contend for the pool,
    so the (buggy) lock binds to this loop, which then goes away."""
    await asyncio.gather(POOL.query("warm-up 1"), POOL.query("warm-up 2"))


def respond(writer, status, body):
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
              413: "Payload Too Large", 500: "Internal Server Error"}.get(status, "Error")
    data = json.dumps(body).encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n\r\n".encode() + data
    )


def error(code, message):
    return {"error": {"code": code, "message": message}}


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = (lines[0].split(" ") + ["", "", ""])[:3]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0") or "0")
            if length > 1 << 20:
                respond(writer, 413, error("too_large", "bodies are limited to 1 MiB"))
                await writer.drain()
                return
            body = await reader.readexactly(length) if length else b""
            if path == "/healthz" and method == "GET":
                respond(writer, 200, {"status": "ready"})
            elif path == "/api/chat" and method == "POST":
                try:
                    message = json.loads(body)["message"]
                    if not isinstance(message, str):
                        raise TypeError
                except (ValueError, KeyError, TypeError):
                    respond(writer, 400, error("invalid_body", 'POST /api/chat takes {"message": str}'))
                else:
                    try:
                        reply = await POOL.query(message)
                        respond(writer, 200, {"response": reply, "conversation_id": str(uuid.uuid4())})
                    except RuntimeError as e:
                        respond(writer, 500, error("internal", f"RuntimeError: {e}"))
            elif path in ("/api/chat", "/healthz"):
                respond(writer, 405, error("method_not_allowed", f"{method} is not allowed on {path}"))
            else:
                respond(writer, 404, error("no_route", f"no route for {method} {path}"))
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main():
    global POOL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fixed", action="store_true", help="create the lock lazily in the serving loop")
    args = parser.parse_args()
    POOL = ConnectionPool(args.fixed)
    asyncio.run(warm_up())
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
