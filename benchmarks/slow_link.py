"""A TCP link with a round-trip time: forwards 127.0.0.1:PORT to a target, each byte delayed half the RTT
each way, as a backend in another data centre is reached.

    python benchmarks/slow_link.py --to 127.0.0.1:1337 --rtt 50      # prints "slow link on PORT"

``benchmarks/async_fastapi.py --rtt MS`` runs one in a process of its own in front of the backend, so
that its CPU is not counted as the client's. Bandwidth is not limited: only the delay is added.
"""
from __future__ import annotations

import argparse
import asyncio
from typing import List, Optional

CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk written ``delay`` seconds after it arrived (in order: the
    delay is the same for every chunk)."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            loop.call_later(delay, _write, writer, data)
    finally:
        loop.call_later(delay, writer.close)


def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


async def serve(target_host: str, target_port: int, rtt: float, port: int = 0) -> None:
    delay = rtt / 2

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pump(reader, up_writer, delay), _pump(up_reader, writer, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(accept, "127.0.0.1", port, backlog=1024)
    print(f"slow link on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--rtt", type=float, required=True, help="round-trip time to add, in milliseconds")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: one the OS picks)")
    args = parser.parse_args(argv)
    host, _, port = args.to.rpartition(":")
    asyncio.run(serve(host, int(port), args.rtt / 1000, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
