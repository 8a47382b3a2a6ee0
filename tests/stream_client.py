"""A bare gRPC agent stream for collector tests: send what you like, read what comes back."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from proto import agent_pb2, agent_pb2_grpc

__all__ = ["TestStream", "final_status", "handshake", "write_unless_ended"]

# grpc.aio's own status for a call whose write failed in the client's core (the server had
# already ended the call): it replaces the status until the server's arrives, a moment later.
CLIENT_WRITE_FAILED = (grpc.StatusCode.INTERNAL, "Internal error from Core")


async def write_unless_ended(call: grpc.aio.StreamStreamCall[Any, Any], message: object) -> bool:
    """Write ``message``; False when the call had already ended (its status says why)."""
    try:
        await call.write(message)
    except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
        if not call.done():
            raise
        return False
    return True


async def final_status(call: grpc.aio.Call, within_s: float = 10.0) -> tuple[grpc.StatusCode, str]:
    """The call's final status as the server sent it, not a failed client write's stand-in.

    A write that races the server ending the call fails in the client's core, and grpc.aio
    then reports INTERNAL "Internal error from Core" until the server's own status (already
    on its way) replaces it. grpc.aio gives no event for that replacement, so poll, bounded.
    """
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        code, details = await call.code(), await call.details() or ""
        if (code, details) != CLIENT_WRITE_FAILED or asyncio.get_running_loop().time() > deadline:
            return code, details
        await asyncio.sleep(0.05)


def handshake(
    epoch: int = 1, hostname: str = "test-host", *, bundles: bool = False
) -> agent_pb2.MessageToServer:
    """An agent's first message; ``bundles`` announces batch bundles (AgentHandshake.batch_bundling)."""
    message = agent_pb2.MessageToServer(
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
    if bundles:
        message.agent_handshake.batch_bundling.supported = True
    return message


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

    async def send(self, message: agent_pb2.MessageToServer) -> bool:
        """Send ``message``; False when the server had already ended the call (see status())."""
        return await write_unless_ended(self.call, message)

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

    async def bundled_acks(self, count: int, within_s: float = 15.0) -> list[list[agent_pb2.BatchAck]]:
        """The acks of ``count`` batches, grouped as their ``BatchAcks`` messages carried them.

        A lone ``batch_ack`` fails: a stream that announced bundles gets none.
        """
        messages: list[list[agent_pb2.BatchAck]] = []
        async with asyncio.timeout(within_s):
            while sum(map(len, messages)) < count:
                message = await self.received.get()
                kind = message.WhichOneof("payload")
                assert kind != "batch_ack", f"a single BatchAck on a bundling stream: {message}"
                if kind == "batch_acks":
                    messages.append(list(message.batch_acks.acks))
        return messages

    async def status(self) -> grpc.StatusCode:
        return (await final_status(self.call))[0]

    async def details(self) -> str:
        return (await final_status(self.call))[1]

    async def close(self) -> None:
        self.call.cancel()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self.channel.close()
