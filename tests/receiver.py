"""A real HTTP receiver on 127.0.0.1 for the webhook tests: it records every request and
answers with a scripted sequence of status codes (then 200). "drop" closes the connection
without answering. It runs on the test's own event loop, so the worker's requests reach it
while the test awaits them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | str

    def json(self) -> dict:
        return orjson.loads(self.body)


class Receiver:
    def __init__(self, *script: int | str) -> None:
        self.script: list[int | str] = list(script)
        self.requests: list[Received] = []
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Event()

    async def start(self, port: int | None = None) -> Receiver:
        """Listen on a free port, or again on the port it had before a stop()."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port or self.port or 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Until `count` requests were answered with a 2xx (for a worker running on its own)."""
        async with asyncio.timeout(timeout):
            while len(self.delivered) < count:
                self._arrived.clear()
                await self._arrived.wait()

    def answer(self, *script: int | str) -> None:
        self.script.extend(script)

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.requests if isinstance(r.answered, int) and 200 <= r.answered < 300]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in head[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            answer = self.script.pop(0) if self.script else 200
            self.requests.append(Received(method, path, headers, body, answer))
            self._arrived.set()
            if answer != "drop":
                writer.write(f"HTTP/1.1 {answer} Scripted\r\nContent-Type: text/plain\r\n"
                             f"Content-Length: 8\r\nConnection: close\r\n\r\nscripted".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
