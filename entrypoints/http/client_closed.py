"""A request whose client went away before the answer started is status 499 (nginx's "client closed request").

Litestar turns a disconnect during the body read into a 500 that no one receives; the access log and
`centralita_http_requests_total` count it as 499 instead, so 5xx stays what the server got wrong.
"""

from __future__ import annotations

from litestar.types import Receive, ReceiveMessage

CLIENT_CLOSED = 499


class ClientWatch:
    """Wraps `receive`: remembers an `http.disconnect` that came before the response started."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.answered = False
        self.closed_early = False

    async def receive(self) -> ReceiveMessage:
        message = await self._receive()
        if message["type"] == "http.disconnect" and not self.answered:
            self.closed_early = True
        return message

    def status(self, status: int | None) -> int | None:
        """The status to count: 499 when the client left before it was answered, else `status`."""
        return CLIENT_CLOSED if self.closed_early else status
