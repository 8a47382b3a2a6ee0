"""Dark and light themes: the remembered choice is applied before the first paint,
and a top-bar button switches it in place (CSS variables do the rest, charts included)."""

from __future__ import annotations

from dash import Dash, Input, Output, html

__all__ = ["THEME_STORAGE_KEY", "TOGGLE_ID", "register_theme", "theme_toggle"]

THEME_STORAGE_KEY = "tidewatch-theme"
TOGGLE_ID = "app-theme-toggle"

# Inline in <head>, before the stylesheets: the page's first paint is already in the
# remembered theme (dark unless the visitor chose light), so there is no flash.
_PRE_PAINT = (
    "<script>(function () { var theme = 'dark';"
    f" try {{ if (localStorage.getItem('{THEME_STORAGE_KEY}') === 'light') {{ theme = 'light'; }} }}"
    " catch (e) {} document.documentElement.setAttribute('data-theme', theme); })();</script>"
)

# On load, label the button; on a click, flip the theme and remember it.
_TOGGLE = f"""
function (clicks) {{
    var root = document.documentElement;
    var theme = root.getAttribute('data-theme') === 'light' ? 'light' : 'dark';
    if (clicks) {{
        theme = theme === 'light' ? 'dark' : 'light';
        root.setAttribute('data-theme', theme);
        try {{ localStorage.setItem('{THEME_STORAGE_KEY}', theme); }} catch (e) {{}}
    }}
    var other = theme === 'light' ? 'dark' : 'light';
    return [theme === 'light' ? '☾' : '☀', 'Switch to the ' + other + ' theme'];
}}
"""


def theme_toggle() -> html.Button:
    """The top bar's theme button (labelled by the clientside callback)."""
    return html.Button(
        "☀", id=TOGGLE_ID, className="tw-theme-toggle", n_clicks=0, title="Switch theme", type="button"
    )


def register_theme(app: Dash) -> None:
    """Put the pre-paint script in the page's head and wire the toggle."""
    app.index_string = app.index_string.replace("{%css%}", _PRE_PAINT + "\n        {%css%}", 1)
    app.clientside_callback(  # type: ignore[no-untyped-call]
        _TOGGLE,
        Output(TOGGLE_ID, "children"),
        Output(TOGGLE_ID, "title"),
        Input(TOGGLE_ID, "n_clicks"),
    )
