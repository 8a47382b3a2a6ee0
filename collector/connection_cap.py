"""A cap on TCP connections per peer IP that carry no established agent stream.

grpc.aio gives no hook at accept time and no way to close a connection by
itself: channelz lists the server's sockets with their remote addresses, but
is read-only. The connections are this process's own file descriptors,
though. Every CONNECTION_SWEEP_S a sweep counts the server's connections per
peer IP through channelz (collector.channelz_count, ~1 ms for a thousand).
Only when a peer may be over the cap does it list the descriptors (Linux:
``/proc/self/fd``) and, per peer IP, keep the ``limit`` oldest connections
that carry no established agent stream (oldest by the sweep that first saw
them, then by descriptor number) and shut the rest down. gRPC then sees an
ordinary hang-up and frees the connection. Connections of established agents
are never touched and do not count, so agents behind the same address as a
flood keep streaming.

A socket is checked again, through a duplicate of its descriptor, right
before it is shut down: a descriptor closed and reused since the listing is
left alone unless it is still the same connection. Between sweeps a peer can
briefly hold more than the cap, and a new agent's connection from a peer
already over the cap can be closed before its stream is established (it
retries); with several collector processes on one port (SO_REUSEPORT) each
caps its own. For a cap at accept time, use the firewall (docs/security.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from collector.channelz_count import ChannelzCounter
from collector.peer_limits import normalise_ip

__all__ = [
    "CONNECTION_SWEEP_S",
    "ConnectionCap",
    "PeerAddress",
    "server_connections",
]

CONNECTION_SWEEP_S = 1.0

# (ip, port) of the remote end, IPv4-mapped IPv6 addresses written as IPv4.
PeerAddress = tuple[str, int]

log = logging.getLogger("tidewatch.collector.connection_cap")


@dataclass(frozen=True, slots=True)
class ServerConnection:
    fd: int
    peer: PeerAddress


def _peer_on_port(sock: socket.socket, port: int) -> PeerAddress | None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
        return None
    if sock.getsockname()[1] != port:
        return None
    host, peer_port = sock.getpeername()[:2]  # OSError (ENOTCONN) for the listening socket
    return normalise_ip(host), peer_port


def server_connections(port: int) -> list[ServerConnection]:
    """This process's TCP connections accepted on ``port``."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            with socket.socket(fileno=os.dup(fd)) as sock:  # closing the duplicate only
                peer = _peer_on_port(sock, port)
        except OSError:  # closed meanwhile, or not a connected socket
            continue
        if peer is not None:
            found.append(ServerConnection(fd, peer))
    return found


def _shut_down(connection: ServerConnection, port: int) -> bool:
    """Hang up ``connection`` if its descriptor still holds it; True when done."""
    try:
        with socket.socket(fileno=os.dup(connection.fd)) as sock:
            if _peer_on_port(sock, port) != connection.peer:
                return False
            sock.shutdown(socket.SHUT_RDWR)
            return True
    except OSError:
        return False


class ConnectionCap:
    """Keeps each peer IP within ``limit`` connections on ``port`` without an established stream."""

    def __init__(
        self,
        port: int,
        limit: int,
        established: Callable[[], Collection[PeerAddress]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.limit = limit
        self.closed = 0
        self.sweeps = 0
        self._established = established
        self._clock = clock
        self._first_seen: dict[PeerAddress, float] = {}
        self._channelz = ChannelzCounter()

    def sweep(self, established: Collection[PeerAddress]) -> int:
        """One pass (blocking: run it off the event loop); returns how many were shut down."""
        # channelz first: cheap, and only a peer that may be over the cap is worth the
        # per-descriptor look. Its counts span every server in the process: at worst
        # that costs a look for nothing.
        counts = self._channelz.connected_ips()
        if counts is not None:
            counts.subtract(ip for ip, _ in established)
            if all(count <= self.limit for count in counts.values()):
                self.sweeps += 1
                return 0
        connections = server_connections(self.port)
        now = self._clock()
        self._first_seen = {c.peer: self._first_seen.get(c.peer, now) for c in connections}
        unproven: defaultdict[str, list[ServerConnection]] = defaultdict(list)
        for connection in connections:
            if connection.peer not in established:
                unproven[connection.peer[0]].append(connection)
        closed = 0
        for ip, held in unproven.items():
            if len(held) <= self.limit:
                continue
            # Oldest kept, as a firewall's connlimit refuses the newest.
            held.sort(key=lambda c: (self._first_seen[c.peer], c.fd))
            excess = [c for c in held[self.limit :] if _shut_down(c, self.port)]
            closed += len(excess)
            if excess and (self.closed + closed).bit_length() > self.closed.bit_length():  # 1st, 2nd, 4th…
                log.warning(
                    "closed %d connection(s) in all over the per-IP cap of %d without an agent stream;"
                    " latest from %s",
                    self.closed + closed,
                    self.limit,
                    ip,
                )
        self.closed += closed
        self.sweeps += 1
        return closed

    async def run(self, interval_s: float = CONNECTION_SWEEP_S) -> None:
        """Sweep every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                # Read on the event loop, which owns the set; the sweep itself blocks.
                established = frozenset(self._established())
                await asyncio.to_thread(self.sweep, established)
            except Exception as exc:  # a failed pass only delays the cap
                log.warning("connection sweep failed: %s", exc)
