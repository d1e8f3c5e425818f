"""A TCP proxy that delays every chunk from client to server: "DynamoDB slowed by N ms".

python benchmarks/delay_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_SECONDS [responses]

With ``responses``, the chunks from server to client are delayed instead: a request of any
size is passed on at once and its answer (a few KiB: one chunk) arrives that much later,
"Firehose answering in N ms" whatever the body's size. Connections are delayed independently,
so several calls in flight overlap as they would against the service.
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while data := await reader.read(65536):
            if delay:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(listen: int, host: str, port: int, delay: float, responses: bool) -> None:
    up, down = (0.0, delay) if responses else (delay, 0.0)

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, port)
        await asyncio.gather(_pipe(client_r, server_w, up), _pipe(server_r, client_w, down))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    responses = sys.argv[5:] == ["responses"]
    asyncio.run(
        main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), responses)
    )
