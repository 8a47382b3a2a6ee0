"""The series routes write their JSON with orjson (api/metrics/encoding.py), which reads a
Struct's attributes as they are named in Python: that is the documented JSON only while no
series Struct renames a field or leaves defaults out. These pin it."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from api.metrics.encoding import json_response
from common.api_models import metrics


def _series_structs() -> list[type[msgspec.Struct]]:
    found = [
        value
        for value in vars(metrics).values()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value.__module__ == metrics.__name__
    ]
    assert metrics.HostSeries in found and metrics.ContainersSeries in found
    return found


@pytest.mark.parametrize("struct", _series_structs(), ids=lambda s: s.__name__)
def test_series_structs_encode_under_their_python_names(struct: type[msgspec.Struct]) -> None:
    config = struct.__struct_config__
    assert not config.omit_defaults and config.array_like is False and config.tag is None
    renamed = [f.name for f in msgspec.structs.fields(struct) if f.encode_name != f.name]
    assert renamed == [], f"{struct.__name__} renames {renamed}: json_response would write the Python names"


def test_a_response_is_the_same_json_as_msgspec_writes() -> None:
    columns = ("rx_bytes_per_second", "tx_bytes_per_second", "rx_bytes_per_second_max")
    interface = {"interface": "eth0", "time_ms": [1, 2]} | {name: [1.5, float("nan")] for name in columns}
    interface |= {"tx_bytes_per_second_max": [0.0, 2e16], "rx_bytes": [7, None], "tx_bytes": [8, 9]}
    body = metrics.NetworkSeries(
        vps_id=3,
        resolution="raw",
        step_ms=60_000,
        from_ms=0,
        to_ms=120_000,
        interfaces=[msgspec.convert(interface, metrics.InterfaceSeries)],
    )
    written: object = json_response(body).content
    assert isinstance(written, bytes)  # encoded once, in json_response: Litestar sends it as is
    assert orjson.loads(written) == msgspec.json.decode(msgspec.json.encode(body))
    assert b'"rx_bytes_per_second":[1.5,null]' in written  # NaN as null, as msgspec writes it
