"""Sturdy steps for dash_duo browser tests on a slow, busy machine.

Dash re-renders a component by replacing its DOM nodes, so an element found a moment ago
may be gone ("stale") by the time it is clicked or read; on a loaded machine that window
is wide. Each step here finds the element and acts on it in one go, and does both again
until it works or a generous deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

__all__ = [
    "NotYet",
    "accept_confirm",
    "choose",
    "click",
    "click_xpath",
    "css_id",
    "replace_text",
    "retry",
    "sign_in",
    "text_of",
    "type_into",
]

STEP_TIMEOUT_S = 20.0
_GONE_OR_BUSY = (
    StaleElementReferenceException,
    NoSuchElementException,
    ElementClickInterceptedException,
    ElementNotInteractableException,
)
T = TypeVar("T")


def retry(step: Callable[[], T], what: str, timeout_s: float = STEP_TIMEOUT_S) -> T:
    """Run ``step`` (find + act) until it gets past a replaced or not-yet-there element."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return step()
        except _GONE_OR_BUSY as error:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what}: still failing after {timeout_s:.0f} s: {error!r}") from error
            time.sleep(0.2)


def css_id(element_id: dict[str, Any]) -> str:
    """A CSS selector for the DOM id Dash gives a dict id (keys sorted, no spaces)."""
    text = (
        "{"
        + ",".join(
            f'"{k}":' + (f'"{v}"' if isinstance(v, str) else str(v)) for k, v in sorted(element_id.items())
        )
        + "}"
    )
    return "[id='" + text + "']"


def _find(dash_duo: Any, selector: str) -> WebElement:
    element: WebElement = dash_duo.driver.find_element(By.CSS_SELECTOR, selector)
    return element


def click(dash_duo: Any, selector: str, timeout_s: float = STEP_TIMEOUT_S) -> None:
    retry(lambda: _find(dash_duo, selector).click(), f"click {selector}", timeout_s)


def click_xpath(dash_duo: Any, xpath: str, timeout_s: float = STEP_TIMEOUT_S) -> None:
    retry(lambda: dash_duo.driver.find_element(By.XPATH, xpath).click(), f"click {xpath}", timeout_s)


def type_into(dash_duo: Any, selector: str, text: str, timeout_s: float = STEP_TIMEOUT_S) -> None:
    """Type ``text`` into the field (a stale element fails before any key, so no double typing).

    To replace a value, ``dash_duo.clear_input`` first: a plain clear() skips React's onChange.
    """
    retry(lambda: _find(dash_duo, selector).send_keys(text), f"type into {selector}", timeout_s)


def replace_text(dash_duo: Any, selector: str, text: str) -> None:
    """Replace the field's value with ``text``, as typing does (React sees each change)."""
    dash_duo.clear_input(selector)
    type_into(dash_duo, selector, text)


def text_of(dash_duo: Any, selector: str, timeout_s: float = STEP_TIMEOUT_S) -> str:
    """The element's visible text, read from a node that is still in the page."""
    return retry(lambda: str(_find(dash_duo, selector).text), f"read {selector}", timeout_s)


def sign_in(dash_duo: Any, username: str, password: str) -> None:
    dash_duo.wait_for_element("#login-username", timeout=STEP_TIMEOUT_S)
    type_into(dash_duo, "#login-username", username)
    type_into(dash_duo, "#login-password", password)
    click(dash_duo, "#login-submit")


class NotYet(NoSuchElementException):
    """The step ran but its effect is not there yet: try again."""


def choose(dash_duo: Any, selector: str, label: str, timeout_s: float = STEP_TIMEOUT_S) -> None:
    """Pick the option ``label`` in the dcc.Dropdown at ``selector`` by searching for it."""

    def step() -> None:
        if label in _find(dash_duo, selector).text:
            return
        _find(dash_duo, selector).click()
        search = dash_duo.driver.find_element(By.CSS_SELECTOR, ".dash-dropdown-search")
        search.send_keys(label)
        for option in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
            if option.text.strip() == label:
                option.click()
                break
        else:
            search.send_keys(Keys.ESCAPE)
        if label not in _find(dash_duo, selector).text:
            raise NotYet(f"{label!r} not chosen yet")

    retry(step, f"choose {label!r} in {selector}", timeout_s)


def accept_confirm(dash_duo: Any, timeout_s: float = STEP_TIMEOUT_S) -> str:
    """Accept the browser's confirm dialog (a dcc.ConfirmDialog) once it shows; its text."""

    def step() -> str:
        try:
            dialog = dash_duo.driver.switch_to.alert
        except NoAlertPresentException as error:
            raise NotYet("no dialog yet") from error
        text = str(dialog.text)
        dialog.accept()
        return text

    return retry(step, "accept the confirm dialog", timeout_s)
