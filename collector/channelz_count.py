"""Connections per peer IP of this process's gRPC servers, counted through channelz.

``grpc._cython.cygrpc`` is grpcio's own module, the one the grpcio-channelz
service reads; it is private, so a test checks it still answers
(tests/integration/test_collector_connection_cap.py). Listing a thousand
sockets takes about a millisecond. Listing the servers takes ~25 ms, so their
ids are read once and again only when one has gone.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from collector.peer_limits import peer_address

__all__ = ["ChannelzCounter"]

PAGE = 1000


def _cygrpc() -> Any:
    from grpc._cython import cygrpc

    return cygrpc


class ChannelzCounter:
    """Counts the server sockets of every gRPC server in the process by remote IP."""

    def __init__(self) -> None:
        self._server_ids: list[int] | None = None

    def connected_ips(self) -> Counter[str] | None:
        """Connections per remote IP; None when channelz does not answer (the caller
        then looks at every descriptor instead)."""
        try:
            if self._server_ids is None:
                self._server_ids = self._list_servers()
            try:
                by_host = self._count(self._server_ids)
            except ValueError:  # a server has gone (a test's, say): list them again
                self._server_ids = self._list_servers()
                by_host = self._count(self._server_ids)
        except (ImportError, AttributeError, KeyError, ValueError, TypeError):
            return None
        counts: Counter[str] = Counter()
        for host, count in by_host.items():
            if host.startswith("ipv4:"):  # canonical already, and the common case: no parse
                counts[host[5:]] += count
            elif (address := peer_address(f"{host}:0")) is not None:
                counts[address[0]] += count
        return counts

    @staticmethod
    def _list_servers() -> list[int]:
        ids: list[int] = []
        start = 0
        while True:
            page = json.loads(_cygrpc().channelz_get_servers(start))
            servers = page.get("server", [])
            ids += [int(server["ref"]["serverId"]) for server in servers]
            if page.get("end") or not servers:
                return ids
            start = ids[-1] + 1

    @staticmethod
    def _count(server_ids: list[int]) -> Counter[str]:
        """Sockets per peer host string ("ipv4:127.0.0.1")."""
        by_host: Counter[str] = Counter()
        for server_id in server_ids:
            start = 0
            while True:
                page = json.loads(_cygrpc().channelz_get_server_sockets(server_id, start, PAGE))
                refs = page.get("socketRef", [])
                for ref in refs:  # name: "chttp2 ipv4:127.0.0.1:43065"
                    by_host[ref.get("name", "").rpartition(" ")[2].rpartition(":")[0]] += 1
                if page.get("end") or not refs:
                    break
                start = int(refs[-1]["socketId"]) + 1
        return by_host
