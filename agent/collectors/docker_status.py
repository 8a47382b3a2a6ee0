"""When a container needs ``inspect`` again, decided from the list API's status text alone.

Restart count, exit code, OOM kill and exact times live only in ``inspect``,
which costs a round trip per container. They change only when a container
starts, stops or restarts, and each of those restarts the age in the status
text (``Up 3 minutes`` -> ``Up 2 seconds``; ``Exited (0) 5 minutes ago`` ->
``Exited (1) 1 second ago``). So a container is inspected again when its state
or exit code changed, when it is young (several restarts can hide in a few
seconds), or when its age went back. Ages that merely tick over (``Up 3
minutes`` -> ``Up 4 minutes``) cost nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["StatusAge", "needs_inspect", "parse_status"]

# Younger than this, a container is inspected on every sample.
YOUNG_S = 5.0
# Slack for the list calls' own timing when comparing two ages.
AGE_SLACK_S = 1.5

_STATUS = re.compile(r"^(Up|Exited \(-?\d+\)|Restarting \(-?\d+\)) (.+?)(?: ago)?(?: \(.*\))?$")
_UNITS_S = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 604800,
    "month": 2592000,
    "year": 31536000,
}


@dataclass(frozen=True, slots=True)
class StatusAge:
    """A status text split into what matters (``Exited (3)``) and its age bounds in seconds."""

    kind: str
    age_min_s: float
    age_max_s: float


def _age_bounds(text: str) -> tuple[float, float] | None:
    # Docker's HumanDuration (go-units): "Less than a second", "1 second",
    # "N seconds", "About a minute", "N minutes", "About an hour", "N hours" (rounded),
    # then days, weeks, months, years.
    if text == "Less than a second":
        return 0.0, 1.0
    if text == "About a minute":
        return 60.0, 120.0
    if text == "About an hour":
        return 3600.0, 5400.0
    number, _, unit = text.partition(" ")
    if not number.isdigit():
        return None
    size = _UNITS_S.get(unit.removesuffix("s"))
    if size is None:
        return None
    n = int(number)
    if size == 3600:
        return (n - 0.5) * size, (n + 0.5) * size
    return float(n * size), float((n + 1) * size)


def parse_status(status: str) -> StatusAge | None:
    """``Up 5 seconds (healthy)`` -> kind ``Up``, age 5..6 s; None for texts without an age."""
    match = _STATUS.match(status)
    if match is None:
        return None
    bounds = _age_bounds(match.group(2))
    if bounds is None:
        return None
    return StatusAge(match.group(1), bounds[0], bounds[1])


def needs_inspect(
    previous_state: str,
    previous_status: str,
    state: str,
    status: str,
    elapsed_s: float,
) -> bool:
    """Whether a container seen before with ``previous_*`` must be inspected again, ``elapsed_s`` later."""
    if state != previous_state:
        return True
    before, now = parse_status(previous_status), parse_status(status)
    if before is None or now is None:
        # No age to reason with: any change of text may be a change of facts.
        return status != previous_status or "second" in status
    if now.kind != before.kind or now.age_min_s < YOUNG_S:
        return True
    # Its age should have grown by elapsed_s; clearly less means it started again.
    return now.age_max_s <= before.age_min_s + elapsed_s - AGE_SLACK_S
