"""A bare gRPC agent stream for collector tests: send what you like, read what comes back."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from proto import agent_pb2, agent_pb2_grpc

__all__ = ["TestStream", "handshake"]


def handshake(epoch: int = 1, hostname: str = "test-host") -> agent_pb2.MessageToServer:
    return agent_pb2.MessageToServer(
        agent_handshake=agent_pb2.AgentHandshake(
            agent_version="test",
            sequence_epoch=epoch,
            host=agent_pb2.HostInfo(
                hostname=hostname, os_name="Debian", architecture="x86_64", cpu_logical_cores=2
            ),
            local_features=agent_pb2.FeatureSwitches(
                docker=True, shell=True, script=True, docker_control=True
            ),
        )
    )


class TestStream:
    """One EstablishCommunicationStream call with a queue of received messages."""

    __test__ = False

    def __init__(
        self,
        target: str,
        token: str | None,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: list[tuple[str, Any]] | None = None,
    ) -> None:
        self.channel = (
            grpc.aio.secure_channel(target, credentials, options=options)
            if credentials
            else grpc.aio.insecure_channel(target, options=options)
        )
        metadata = (("authorization", f"Bearer {token}"),) if token is not None else ()
        stub = agent_pb2_grpc.AgentCommunicationServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.call = stub.EstablishCommunicationStream(metadata=metadata)
        self.received: asyncio.Queue[agent_pb2.MessageToAgent] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.call:
            await self.received.put(message)

    async def send(self, message: agent_pb2.MessageToServer) -> None:
        await self.call.write(message)

    async def next(self, kind: str, within_s: float = 10.0) -> agent_pb2.MessageToAgent:
        """The next received message with payload ``kind``, skipping heartbeat requests."""
        async with asyncio.timeout(within_s):
            while True:
                message = await self.received.get()
                if message.WhichOneof("payload") == kind:
                    return message

    async def acks(self, count: int, within_s: float = 15.0) -> dict[int, agent_pb2.BatchAck]:
        out: dict[int, agent_pb2.BatchAck] = {}
        while len(out) < count:
            ack = (await self.next("batch_ack", within_s)).batch_ack
            out[ack.sequence] = ack
        return out

    async def status(self) -> grpc.StatusCode:
        with_status = await self.call.code()
        return with_status  # type: ignore[no-any-return]

    async def close(self) -> None:
        self.call.cancel()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self.channel.close()
