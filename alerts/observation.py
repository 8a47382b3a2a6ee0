"""What an evaluation found for one target of one rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Observation", "Rule", "group_fleet_outage"]


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    kind: str
    scope_vps_id: int | None
    scope_labels: dict[str, str]
    metric: str
    metric_labels: dict[str, str]
    comparator: str
    threshold: float | None
    duration_s: float
    resolve_threshold: float | None
    resolve_duration_s: float | None
    repeat_every_s: float | None
    params: dict[str, Any]


@dataclass(slots=True)
class Observation:
    """``fire``: the open condition holds; ``clear``: the resolve condition holds.
    Neither (not enough data, or inside the hysteresis band) keeps the current state."""

    target_key: str
    vps_id: int | None
    target_label: str
    fire: bool
    clear: bool
    value: float | None = None
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def group_fleet_outage(
    observations: list[Observation],
    open_details: dict[str, dict[str, Any]],
    scope_size: int,
    fraction: float,
) -> list[Observation]:
    """Offline rules: many VPSes going down at once become one 'fleet' incident.

    ``open_details`` maps open target keys to their event details. Members of an
    open fleet incident get no events of their own; it clears when all are back.
    """
    fleet_open = open_details.get("fleet")
    members = set(fleet_open.get("members", [])) if fleet_open else set()
    rest = [o for o in observations if o.target_key not in members]
    out: list[Observation] = []
    if fleet_open is not None:
        back = all(o.clear for o in observations if o.target_key in members)
        down = [o.target_label for o in observations if o.target_key in members and not o.clear]
        out.append(
            Observation(
                "fleet",
                None,
                "fleet",
                fire=not back,
                clear=back,
                value=float(len(down)),
                summary=f"{len(down)} of {len(members)} VPSes still offline",
                details=dict(fleet_open),
            )
        )
    newly = [o for o in rest if o.fire and o.target_key not in open_details]
    if fleet_open is None and len(newly) >= 2 and len(newly) >= fraction * max(scope_size, 1):
        names = sorted(o.target_label for o in newly)
        out.append(
            Observation(
                "fleet",
                None,
                "fleet",
                fire=True,
                clear=False,
                value=float(len(newly)),
                summary=f"{len(newly)} of {scope_size} VPSes went offline at once: {', '.join(names[:20])}",
                details={"members": sorted(o.target_key for o in newly), "names": names},
            )
        )
        rest = [o for o in rest if o not in newly]
    return out + rest
