"""Callbacks of helper modules, registered again for every app.

Dash executes page modules afresh for each app and hands the callbacks they
register to that app only; a helper module is imported once, so its ``@callback``
would reach only the first app built in a process. Helpers collect theirs here and
the page that uses them calls ``register()`` at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dash import callback, clientside_callback

__all__ = ["DeferredCallbacks"]

F = TypeVar("F", bound=Callable[..., Any])


class DeferredCallbacks:
    def __init__(self) -> None:
        self._pending: list[tuple[tuple[Any, ...], dict[str, Any], Callable[..., Any]]] = []
        self._clientside: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """Like ``dash.callback``, registered only when ``register()`` runs."""

        def remember(function: F) -> F:
            self._pending.append((args, kwargs, function))
            return function

        return remember

    def clientside_callback(self, function: str, *args: Any, **kwargs: Any) -> None:
        """Like ``dash.clientside_callback``, registered only when ``register()`` runs."""
        self._clientside.append((function, args, kwargs))

    def register(self) -> None:
        """Hand every callback to the app whose pages are being loaded."""
        for args, kwargs, function in self._pending:
            callback(*args, **kwargs)(function)
        for source, args, kwargs in self._clientside:
            clientside_callback(source, *args, **kwargs)  # type: ignore[no-untyped-call]
