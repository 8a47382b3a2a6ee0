"""What the fleet page shows: search, label filter, sort, grouping, paging and the
URL that reproduces a view. Pure functions over compact rows; no Dash here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, get_args
from urllib.parse import urlencode

from msgspec import Struct

from common.api_models import VpsOut
from dashboards.units import percent

__all__ = [
    "DEFAULT_SORT",
    "SORT_KEYS",
    "VIEWS",
    "FleetGroup",
    "FleetQuery",
    "FleetRow",
    "LabelFilter",
    "LabelSelector",
    "Page",
    "View",
    "apply_query",
    "fleet_row",
    "group_rows",
    "label_keys",
    "label_pairs",
    "matches_search",
    "page_of",
    "parse_label_filter",
    "query_from_params",
    "query_string",
    "sort_rows",
]

View = Literal["cards", "table"]
SortKey = Literal["name", "cpu", "memory", "disk", "network"]
VIEWS: tuple[View, ...] = get_args(View)
SORT_KEYS: tuple[SortKey, ...] = get_args(SortKey)
DEFAULT_SORT: SortKey = "name"
# The API's rule for label keys (common/api_models/vps.py LabelKey), without its end anchor.
_LABEL_KEY = re.compile(r"[A-Za-z0-9_./-]{1,63}")
_MAX_TEXT = 256  # a URL cannot make the page scan with megabytes of search text
_PER_PAGE_MIN, _PER_PAGE_MAX = 10, 1000


class FleetRow(Struct, frozen=True, array_like=True):
    """One VPS as the fleet page needs it: small, because the browser holds the
    whole fleet and sends it back with every change of view (array_like halves it)."""

    id: int
    name: str
    hostname: str
    system: str
    ip_address: str
    labels: dict[str, str]
    online: bool
    has_data: bool = False
    cpu_percent: float | None = None
    load_1: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    disk_used_bytes: int | None = None
    disk_total_bytes: int | None = None
    net_rx_bytes_per_second: float | None = None
    net_tx_bytes_per_second: float | None = None
    uptime_seconds: int | None = None
    last_seen_ms: int | None = None
    clock_note: str | None = None
    expiry_text: str | None = None
    expiry_urgent: bool = False

    @property
    def memory_percent(self) -> float | None:
        return percent(self.memory_used_bytes, self.memory_total_bytes)

    @property
    def disk_percent(self) -> float | None:
        return percent(self.disk_used_bytes, self.disk_total_bytes)

    @property
    def net_bytes_per_second(self) -> float | None:
        """Received plus sent: what "busiest network" sorts by."""
        if self.net_rx_bytes_per_second is None and self.net_tx_bytes_per_second is None:
            return None
        return (self.net_rx_bytes_per_second or 0.0) + (self.net_tx_bytes_per_second or 0.0)


def fleet_row(vps: VpsOut, expiry: tuple[str, bool] | None = None) -> FleetRow:
    """The compact row of one VPS; ``expiry`` is its billing note and whether it is urgent."""
    os_name = " ".join(part for part in (vps.os_name, vps.os_version) if part)
    latest = vps.latest
    return FleetRow(
        id=vps.id,
        name=vps.name,
        hostname=vps.hostname or "",
        system=" · ".join(part for part in (vps.hostname, os_name) if part),
        ip_address=vps.ip_address,
        labels=vps.labels,
        online=vps.online,
        has_data=latest is not None,
        cpu_percent=latest.cpu_percent if latest else None,
        load_1=latest.load_1 if latest else None,
        memory_used_bytes=latest.memory_used_bytes if latest else None,
        memory_total_bytes=latest.memory_total_bytes if latest else None,
        disk_used_bytes=latest.disk_used_bytes if latest else None,
        disk_total_bytes=latest.disk_total_bytes if latest else None,
        net_rx_bytes_per_second=latest.net_rx_bytes_per_second if latest else None,
        net_tx_bytes_per_second=latest.net_tx_bytes_per_second if latest else None,
        uptime_seconds=latest.uptime_seconds if latest else None,
        last_seen_ms=int(vps.last_seen.timestamp() * 1000) if vps.last_seen else None,
        clock_note=vps.clock_note,
        expiry_text=expiry[0] if expiry else None,
        expiry_urgent=expiry[1] if expiry else False,
    )


# --- Label filter -----------------------------------------------------------------------------


class LabelSelector(Struct, frozen=True):
    """``key=value``, or ``key`` alone: the VPS has that label with any value."""

    key: str
    value: str | None = None


class LabelFilter(Struct, frozen=True):
    """Parsed selectors and, for each term that is not one, why."""

    selectors: tuple[LabelSelector, ...] = ()
    errors: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Selectors on one key are alternatives (env=prod, env=staging); different keys must all hold."""
        by_key: dict[str, list[str | None]] = {}
        for selector in self.selectors:
            by_key.setdefault(selector.key, []).append(selector.value)
        return all(
            key in labels and any(value is None or labels[key] == value for value in values)
            for key, values in by_key.items()
        )


def parse_label_filter(text: str) -> LabelFilter:
    """``"env=prod, role = web, gpu"`` → three selectors. Terms are separated by commas,
    so a value cannot hold one; spaces around keys and values are ignored."""
    selectors: list[LabelSelector] = []
    errors: list[str] = []
    for term in (part.strip() for part in text[:_MAX_TEXT].split(",")):
        if not term:
            continue
        key, equals, value = (part.strip() for part in term.partition("="))
        if not _LABEL_KEY.fullmatch(key):
            errors.append(
                f"“{term}”: a label key is 1-63 letters, digits or _ . / - (write key=value)"
                if key
                else f"“{term}”: the label key is missing before “=”"
            )
            continue
        selector = LabelSelector(key, value if equals else None)
        if selector not in selectors:
            selectors.append(selector)
    return LabelFilter(tuple(selectors), tuple(errors))


def label_pairs(rows: Iterable[FleetRow]) -> list[str]:
    """Every ``key=value`` in the fleet, sorted: suggestions for the filter box."""
    return sorted({f"{key}={value}" for row in rows for key, value in row.labels.items()}, key=str.casefold)


def label_keys(rows: Iterable[FleetRow]) -> list[str]:
    """Every label key in the fleet, sorted: what the page can group by."""
    return sorted({key for row in rows for key in row.labels}, key=str.casefold)


# --- Search, sort, group, page -----------------------------------------------------------------


def matches_search(row: FleetRow, text: str) -> bool:
    """Every word of ``text`` appears, ignoring case, in the name, host name, address or a label."""
    words = text[:_MAX_TEXT].casefold().split()
    if not words:
        return True
    haystack = "\n".join(
        [row.name, row.hostname, row.ip_address, *(f"{k}={v}" for k, v in row.labels.items())]
    ).casefold()
    return all(word in haystack for word in words)


def _metric(row: FleetRow, key: SortKey) -> float | None:
    match key:
        case "cpu":
            return row.cpu_percent
        case "memory":
            return row.memory_percent
        case "disk":
            return row.disk_percent
        case "network":
            return row.net_bytes_per_second
        case "name":
            return None


def sort_rows(rows: Iterable[FleetRow], key: SortKey) -> list[FleetRow]:
    """By name A→Z, or busiest first by a metric; servers without the metric go last, by name."""
    by_name = sorted(rows, key=lambda row: (row.name.casefold(), row.name, row.id))
    if key == "name":
        return by_name
    # sorted() is stable, so equal values (and the missing ones) keep the name order.
    known = [row for row in by_name if _metric(row, key) is not None]
    unknown = [row for row in by_name if _metric(row, key) is None]
    return sorted(known, key=lambda row: -(_metric(row, key) or 0.0)) + unknown


class FleetGroup(Struct, frozen=True):
    """Servers sharing one value of the grouping label; ``title`` is None when not grouped."""

    title: str | None
    rows: tuple[FleetRow, ...]


def group_rows(rows: Sequence[FleetRow], key: str) -> list[FleetGroup]:
    """Groups by the value of label ``key``, in value order, keeping the row order inside
    each; servers without the label form the last group. No key: one untitled group."""
    if not key:
        return [FleetGroup(None, tuple(rows))]
    groups: dict[str, list[FleetRow]] = {}
    without: list[FleetRow] = []
    for row in rows:
        value = row.labels.get(key)
        if value is None:
            without.append(row)
        else:
            groups.setdefault(value, []).append(row)
    ordered = [
        FleetGroup(f"{key}={value}", tuple(groups[value])) for value in sorted(groups, key=str.casefold)
    ]
    return ordered + ([FleetGroup(f"no {key} label", tuple(without))] if without else [])


class Page(Struct, frozen=True):
    """One page of the filtered fleet: its groups, and where it sits among the pages."""

    groups: list[FleetGroup]
    number: int
    pages: int
    first: int  # 1-based index of the first row shown; 0 when nothing is shown
    last: int
    total: int


def page_of(groups: Sequence[FleetGroup], number: int, per_page: int) -> Page:
    """Page ``number`` (clamped to the pages there are) of ``per_page`` rows across the groups;
    a group split by a page boundary keeps its title on both pages."""
    total = sum(len(group.rows) for group in groups)
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    start, end = (number - 1) * per_page, min(total, number * per_page)
    shown: list[FleetGroup] = []
    offset = 0
    for group in groups:
        low, high = max(start - offset, 0), min(end - offset, len(group.rows))
        if low < high:
            shown.append(FleetGroup(group.title, group.rows[low:high]))
        offset += len(group.rows)
    return Page(shown, number, pages, start + 1 if total else 0, end, total)


# --- The view and its URL ---------------------------------------------------------------------


class FleetQuery(Struct, frozen=True):
    """Everything that decides what the page shows; ``view`` None means the browser's
    remembered choice (or the default for the fleet's size)."""

    view: View | None = None
    search: str = ""
    labels: str = ""
    sort: SortKey = DEFAULT_SORT
    group: str = ""
    page: int = 1
    # Rows per page; None: the view's own default. Only the URL sets it.
    per_page: int | None = None


def _one(value: str | list[str] | None, joiner: str = " ") -> str:
    if value is None:
        return ""
    text = joiner.join(value) if isinstance(value, list) else value
    return text.strip()[:_MAX_TEXT]


def query_from_params(params: Mapping[str, str | list[str]]) -> FleetQuery:
    """The view a URL asks for (Dash pages hands a page its query string this way). A link is
    not a form: unknown values fall back to the defaults instead of failing the page."""
    view = _one(params.get("view"))
    sort = _one(params.get("sort"))
    group = _one(params.get("group"))
    page = _one(params.get("page"))
    per_page = _one(params.get("per_page"))
    return FleetQuery(
        view=next((v for v in VIEWS if v == view), None),
        search=_one(params.get("q")),
        labels=_one(params.get("label"), ","),
        sort=next((s for s in SORT_KEYS if s == sort), DEFAULT_SORT),
        group=group if _LABEL_KEY.fullmatch(group) else "",
        page=int(page) if page.isdigit() and 0 < len(page) <= 6 else 1,
        per_page=int(per_page)
        if per_page.isdigit() and _PER_PAGE_MIN <= int(per_page) <= _PER_PAGE_MAX
        else None,
    )


def query_string(query: FleetQuery) -> str:
    """The URL query that reproduces ``query``: ``?view=table&label=env%3Dprod``; "" for the defaults."""
    pairs = [
        ("view", query.view or ""),
        ("q", query.search.strip()),
        ("label", query.labels.strip()),
        ("sort", query.sort if query.sort != DEFAULT_SORT else ""),
        ("group", query.group),
        ("page", str(query.page) if query.page > 1 else ""),
        ("per_page", str(query.per_page) if query.per_page else ""),
    ]
    encoded = urlencode([(name, value) for name, value in pairs if value])
    return f"?{encoded}" if encoded else ""


def apply_query(rows: Iterable[FleetRow], query: FleetQuery, label_filter: LabelFilter) -> list[FleetGroup]:
    """Search, filter, sort and group the fleet as ``query`` says."""
    kept = [row for row in rows if matches_search(row, query.search) and label_filter.matches(row.labels)]
    return group_rows(sort_rows(kept, query.sort), query.group)
