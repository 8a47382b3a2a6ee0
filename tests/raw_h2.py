"""The agent stream spoken in raw HTTP/2 frames (h2), for what grpc clients never send:
a gRPC message cut short by END_STREAM, say."""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events

__all__ = ["RawAnswer", "grpc_frame", "raw_agent_call"]

METHOD = "/tidewatch.v1.AgentCommunicationService/EstablishCommunicationStream"


def grpc_frame(message: bytes) -> bytes:
    """One length-prefixed, uncompressed gRPC message."""
    return b"\x00" + struct.pack(">I", len(message)) + message


@dataclass
class RawAnswer:
    status: int | None = None
    message: str = ""
    data_frames: int = 0
    seconds: float = 0.0
    events: list[str] = field(default_factory=list)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def raw_agent_call(port: int, token: str, body: list[bytes], *, within_s: float = 20.0) -> RawAnswer:
    """Send ``body`` as DATA frames, the last with END_STREAM; wait for the grpc-status."""
    answer = RawAnswer()
    started = time.monotonic()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    with socket.create_connection(("127.0.0.1", port), timeout=within_s) as sock:
        conn.initiate_connection()
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(
            stream_id,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", METHOD),
                (":authority", f"127.0.0.1:{port}"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("authorization", f"Bearer {token}"),
            ],
        )
        for i, chunk in enumerate(body):
            conn.send_data(stream_id, chunk, end_stream=i == len(body) - 1)
        sock.sendall(conn.data_to_send())
        while time.monotonic() - started < within_s:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            for event in conn.receive_data(data):
                answer.events.append(type(event).__name__)
                if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    headers = {_text(k): _text(v) for k, v in event.headers or ()}
                    if "grpc-status" in headers:
                        answer.status = int(headers["grpc-status"])
                        answer.message = headers.get("grpc-message", "")
                elif isinstance(event, h2.events.DataReceived):
                    answer.data_frames += 1
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamReset):
                    answer.seconds = time.monotonic() - started
                    return answer
            sock.sendall(conn.data_to_send())
            if answer.status is not None:
                break
    answer.seconds = time.monotonic() - started
    return answer
