"""``GET /api/live``: newest samples, and online/offline changes, of the VPSes a client subscribes to.

Authenticate with ``?token=`` or, to keep the token out of access logs, with
a first message ``{"type": "auth", "token": "twu_…"}`` within 10 seconds.
Then send ``{"type": "subscribe", "vps_ids": [1, 2]}`` (or ``"all": true``).
An authentication failure closes the socket with code 4401.

The token is checked against the database again every few seconds while the
socket is open, on whichever API instance holds it: a revoked or expired token
or a disabled user closes it with 4401, a changed role with 4409 (reconnect to
go on with the new role).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
import psycopg
from litestar import WebSocket, websocket
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect
from psycopg_pool import PoolTimeout

from api import paths
from api.auth.sessions import TOKEN_STATE, AuthUser, authenticate
from api.live.hub import Subscriber
from api.live.watch import FLEET_IDS, watchable
from api.resources import Resources, get_resources
from common.api_models import (
    LiveAuth,
    LiveClientMessage,
    LiveError,
    LivePing,
    LivePong,
    LiveSubscribe,
    LiveSubscribed,
    LiveWelcome,
)

__all__ = [
    "REVALIDATE_S",
    "WS_ROLE_CHANGED",
    "WS_TRY_AGAIN_LATER",
    "WS_UNAUTHORIZED",
    "SocketSession",
    "authenticate_or_close",
    "live_socket",
]

log = logging.getLogger("tidewatch.api.live")

AUTH_TIMEOUT_S = 10.0
WS_UNAUTHORIZED = 4401
WS_TRY_AGAIN_LATER = 1013
WS_ROLE_CHANGED = 4409
# How often an open socket re-reads its token and user: revocation reaches every
# instance through the database within this, whatever the session cache's TTL.
REVALIDATE_S = 2.0
_decoder = msgspec.json.Decoder(LiveClientMessage)
_encoder = msgspec.json.Encoder()


class SocketSession:
    """One socket: serialises sends, since the reader and the writer both send."""

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.socket = socket
        self._lock = asyncio.Lock()

    async def send(self, message: msgspec.Struct | bytes) -> None:
        data = message if isinstance(message, bytes) else _encoder.encode(message)
        async with self._lock:
            await self.socket.send_data(data.decode(), mode="text")


async def _authenticate(session: SocketSession, res: Resources) -> AuthUser:
    token = session.socket.query_params.get("token")
    if token is None:
        try:
            first = await asyncio.wait_for(session.socket.receive_text(), AUTH_TIMEOUT_S)
            message = _decoder.decode(first)
        except TimeoutError:
            raise NotAuthorizedException(f"send an auth message within {AUTH_TIMEOUT_S:.0f}s") from None
        except msgspec.DecodeError as exc:
            raise NotAuthorizedException(f"the first message must be auth: {exc}") from None
        if not isinstance(message, LiveAuth):
            raise NotAuthorizedException('the first message must be {"type": "auth", "token": …}')
        token = message.token
    async with res.connection("authentication") as conn:
        return await authenticate(conn, res.sessions, token)


async def authenticate_or_close(session: SocketSession, res: Resources) -> AuthUser | None:
    """The socket's user; or None once the socket is told why and closed (or already gone)."""
    try:
        return await _authenticate(session, res)
    except NotAuthorizedException as exc:
        await session.send(LiveError(detail=exc.detail))
        await session.socket.close(code=WS_UNAUTHORIZED, reason="unauthorized")
    except (PoolTimeout, psycopg.Error):
        await session.send(LiveError(detail="the database is not reachable; try again shortly"))
        await session.socket.close(code=WS_TRY_AGAIN_LATER, reason="database unavailable")
    except WebSocketDisconnect:
        pass
    return None


async def _read(session: SocketSession, subscriber: Subscriber, res: Resources) -> None:
    while True:
        text = await session.socket.receive_text()
        try:
            message = _decoder.decode(text)
        except msgspec.DecodeError as exc:
            await session.send(LiveError(detail=f"bad message: {exc}"))
            continue
        match message:
            case LiveSubscribe(vps_ids=vps_ids, all=everything, watch=asked):
                subscriber.vps_ids = frozenset(vps_ids)
                subscriber.all = everything
                watching = await _watchable(res, vps_ids, everything, asked)
                res.watch.change(subscriber.watching, watching)
                subscriber.watching = watching
                await session.send(
                    LiveSubscribed(
                        vps_ids=sorted(vps_ids),
                        all=everything,
                        listening=res.live.listening.is_set(),
                        watching=sorted(watching),
                    )
                )
            case LivePing():
                await session.send(LivePong())
            case LiveAuth():
                await session.send(LiveError(detail="already authenticated"))


async def _watchable(res: Resources, vps_ids: list[int], everything: bool, asked: bool) -> frozenset[int]:
    limit = res.settings.live_watch_max_vps
    fleet: list[int] = []
    if asked and everything:
        try:
            async with res.connection("watch: fleet size", REVALIDATE_S) as conn:
                fleet = [row["id"] for row in await (await conn.execute(FLEET_IDS, (limit + 1,))).fetchall()]
        except (PoolTimeout, psycopg.Error) as exc:
            log.debug("fleet size unknown, not watching: %s", exc)
            return frozenset()
    return watchable(vps_ids, everything, asked, limit, fleet)


async def _still_valid(user: AuthUser, res: Resources) -> tuple[int, str]:
    """Wait until the socket's token or user changes; return the close code and reason."""
    while True:
        await asyncio.sleep(REVALIDATE_S)
        try:
            async with res.pool.connection(timeout=REVALIDATE_S) as conn:
                row = await (await conn.execute(TOKEN_STATE, (user.token_id,))).fetchone()
        except (PoolTimeout, psycopg.Error) as exc:
            log.debug("live socket of %s: recheck failed, will retry: %s", user.username, exc)
            continue
        if row is None:
            ending = (WS_UNAUTHORIZED, "token revoked: log in again")
        elif row["disabled"]:
            ending = (WS_UNAUTHORIZED, "this account is disabled")
        elif row["expired"]:
            ending = (WS_UNAUTHORIZED, "token expired: log in again")
        elif row["role"] != user.role.value:
            ending = (WS_ROLE_CHANGED, f"role changed to {row['role']}: reconnect")
        else:
            continue
        res.sessions.evict(token_id=user.token_id)
        return ending


async def _write(session: SocketSession, subscriber: Subscriber) -> None:
    while True:
        await session.send(await subscriber.queue.get())


@websocket(paths.LIVE, name="live", opt={"exclude_from_auth": True})
async def live_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Push samples and status changes of the subscribed VPSes as the collector commits them."""
    await socket.accept()
    session = SocketSession(socket)
    res = get_resources(socket.app.state)
    user = await authenticate_or_close(session, res)
    if user is None:
        return
    await session.send(LiveWelcome(username=user.username, role=user.role.value))
    subscriber = res.live.subscribe()
    watch = asyncio.create_task(_still_valid(user, res))
    tasks = [
        asyncio.create_task(_read(session, subscriber, res)),
        asyncio.create_task(_write(session, subscriber)),
        watch,
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                log.warning("live socket of %s ended: %r", user.username, error)
    finally:
        res.watch.change(subscriber.watching, frozenset())
        res.live.unsubscribe(subscriber)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await task
    if watch in done and watch.exception() is None:
        code, reason = watch.result()
        log.info("closing the live socket of %s: %s", user.username, reason)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await session.send(LiveError(detail=reason))
            await socket.close(code=code, reason=reason)
