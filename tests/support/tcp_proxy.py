"""A loopback TCP proxy in its own process, which the test can cut and restore.

Run by :class:`tests.support.outages.TcpProxy` as ``python -m
tests.support.tcp_proxy <listen port> <host:port> [<host:port> ...]``. With
several targets it is a load balancer: each new connection goes to the next
target in turn, or the one after if that one refuses (a process down). In its
own process it does not share a GIL with the test's hundreds of clients, so
the database is as quick through it as without it (in a thread of the
test process, every query of Rasa and the handoff service waited for the
clients' turns). SIGUSR1 cuts (open connections dropped, new ones closed
at once), SIGUSR2 restores; each answers a line on stdout when done.
"""

from __future__ import annotations

import asyncio
import signal
import sys


class Proxy:
    def __init__(self, targets: list[tuple[str, int]]) -> None:
        self.targets = targets
        self.turn = 0
        self.cut_now = False
        self.writers: set[asyncio.StreamWriter] = set()

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_now:
            writer.close()
            return
        self.turn += 1
        for step in range(len(self.targets)):
            target = self.targets[(self.turn + step) % len(self.targets)]
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*target)
                break
            except OSError:
                continue
        else:
            writer.close()
            return
        self.writers.update((writer, upstream_writer))
        await asyncio.gather(self.pipe(reader, upstream_writer), self.pipe(upstream_reader, writer))

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def cut(self) -> None:
        self.cut_now = True
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        print("cut", flush=True)

    def restore(self) -> None:
        self.cut_now = False
        print("restored", flush=True)


async def main(port: int, targets: list[tuple[str, int]]) -> None:
    proxy = Proxy(targets)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, proxy.cut)
    loop.add_signal_handler(signal.SIGUSR2, proxy.restore)
    server = await asyncio.start_server(proxy.client, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    pairs = [argument.rsplit(":", 1) for argument in sys.argv[2:]]
    asyncio.run(main(int(sys.argv[1]), [(host, int(port)) for host, port in pairs]))
