"""A bound on how long a request body may take to arrive (slow uploads holding a worker: slowloris).

uvicorn bounds neither the time between body chunks nor the whole read. Here, from the moment the request
starts, the whole body must have arrived within REQUEST_BODY_TIMEOUT_SECONDS; otherwise the client gets
`408 {"code": "request_timeout"}` and the connection is closed. Once the body is in, `receive` is unbounded
again (a streaming reply waits on it for the client's disconnect).
"""

from __future__ import annotations

import asyncio
import logging
import time

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from entrypoints.http.error_body import encode_error_body

log = logging.getLogger("centralita.http")
_BODY = encode_error_body("request_timeout", "The request body took too long to arrive.")


def with_body_timeout(app: ASGIApp, seconds: float) -> ASGIApp:
    """`app`, answering 408 and closing the connection when an HTTP request body is slower than `seconds`."""

    async def bounded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        deadline = time.monotonic() + seconds
        state = {"body_done": False, "started": False, "timed_out": False}

        async def timed_receive() -> ReceiveMessage:
            if state["body_done"] or state["timed_out"]:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                await too_slow()
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                state["body_done"] = True
            return message

        async def too_slow() -> None:
            state["timed_out"] = True
            log.info("request body slower than %ss on %s", seconds, scope["path"])
            if state["started"]:
                return  # a reply is under way: the disconnect the app now sees ends it
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_BODY)).encode()),
                (b"connection", b"close"),
            ]
            start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 408, "headers": headers}
            await send(start)
            body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": _BODY, "more_body": False}
            await send(body)

        async def guarded_send(message: Message) -> None:
            if state["timed_out"]:
                return  # the app's reaction to the disconnect (a 500, an error) after the 408 was sent
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await app(scope, timed_receive, guarded_send)

    return bounded
