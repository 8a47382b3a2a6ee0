"""One agent's stream as the collector holds it: its outbox, acks, clock and cut."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import grpc

from collector.agent_clock import AgentClock
from proto import agent_pb2

__all__ = ["ACKS_READY", "TAKEN_OVER", "TOKEN_ROTATED", "VPS_REMOVED", "AgentSession"]

VPS_REMOVED = "this VPS was removed from Tidewatch; reinstall the agent with a new token"
TOKEN_ROTATED = "agent token rotated; reconnect with the new token"
TAKEN_OVER = "this agent connected to another collector, which now holds its stream"


@dataclass(eq=False)
class AgentSession:
    vps_id: int
    epoch: int
    local_features: agent_pb2.FeatureSwitches
    # The stored hash the stream's token matched when it connected.
    token_hash: str = ""
    # The config last sent to the agent: a config hint that changes nothing sends nothing.
    config: agent_pb2.AgentConfig | None = None
    # Whether that config is watch mode's: such sessions are re-read until the lease lapses.
    watched: bool = False
    stream_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    outbox: asyncio.Queue[agent_pb2.MessageToAgent] = field(default_factory=asyncio.Queue)
    cut_reason: str | None = None
    cut_code: grpc.StatusCode = grpc.StatusCode.ABORTED
    cut_event: asyncio.Event = field(default_factory=asyncio.Event)
    heard_at: float = field(default_factory=time.time)
    clock: AgentClock = field(default_factory=AgentClock)
    # The agent announced batch bundles (AgentHandshake.batch_bundling) and this
    # collector offers them: its acks travel together (collector.bundles).
    bundles: bool = False
    acks: list[agent_pb2.BatchAck] = field(default_factory=list)

    def send(self, message: agent_pb2.MessageToAgent) -> None:
        self.outbox.put_nowait(message)

    def send_ack(self, ack: agent_pb2.BatchAck) -> None:
        """One BatchAck alone, or, with bundles, into the next BatchAcks the writer sends."""
        if not self.bundles:
            self.outbox.put_nowait(agent_pb2.MessageToAgent(batch_ack=ack))
            return
        if not self.acks:
            self.outbox.put_nowait(ACKS_READY)
        self.acks.append(ack)

    def take_acks(self) -> agent_pb2.MessageToAgent:
        """Every ack gathered since the writer last took them, as one BatchAcks."""
        acks, self.acks = self.acks, []
        return agent_pb2.MessageToAgent(batch_acks=agent_pb2.BatchAcks(acks=acks))

    def cut(self, reason: str, code: grpc.StatusCode = grpc.StatusCode.ABORTED) -> None:
        self.cut_reason = reason
        self.cut_code = code
        self.cut_event.set()


# In an outbox: "the session's gathered acks go here" (compared by identity, never sent).
ACKS_READY = agent_pb2.MessageToAgent()
