"""Custom metrics: the exposition-format parser and the directory reader (files and scripts)."""

from __future__ import annotations

import logging
import math
import os
import stat
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.collectors.exposition import ExpositionError, ParsedSample, parse_exposition, parse_line
from agent.collectors.generic import GenericMetricsReader

NOW_S = 1_700_000_000.0
NOW_MS = 1_700_000_000_000


# ------------------------------------------------------------------ parser


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("queue_depth 12", ParsedSample("queue_depth", 12.0)),
        ("queue_depth 12 1700000000123", ParsedSample("queue_depth", 12.0, {}, 1_700_000_000_123)),
        (
            'backup_age_seconds{job="db",host="a"} 3600',
            ParsedSample("backup_age_seconds", 3600.0, {"job": "db", "host": "a"}),
        ),
        ('m{a="1",} -1.5e3', ParsedSample("m", -1500.0, {"a": "1"})),
        ("m{} 0", ParsedSample("m", 0.0)),
        ('m { a = "x" } 1', ParsedSample("m", 1.0, {"a": "x"})),
        (
            'm{path="C:\\\\dir",q="say \\"hi\\"",nl="a\\nb"} 1',
            ParsedSample("m", 1.0, {"path": "C:\\dir", "q": 'say "hi"', "nl": "a\nb"}),
        ),
        ('m{v="a,b} c"} 2', ParsedSample("m", 2.0, {"v": "a,b} c"})),
        ("ns:sub_total\t7", ParsedSample("ns:sub_total", 7.0)),
        ("  indented 1  ", ParsedSample("indented", 1.0)),
        ("m +Inf", ParsedSample("m", math.inf)),
        ("m 1 -5", ParsedSample("m", 1.0, {}, -5)),
    ],
)
def test_parse_good_lines(line: str, expected: ParsedSample) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", ["", "   ", "# HELP m something", "# TYPE m gauge", "#"])
def test_blank_lines_and_comments_are_ignored(line: str) -> None:
    assert parse_line(line) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("9lives 1", "metric name"),
        ("m", "no value"),
        ("m abc", "not a number"),
        ("m 1_000", "not a number"),
        ("m 1 2 3", "unexpected text"),
        ("m 1 12.5", "integer milliseconds"),
        ('m{a="1" 1', "expected ',' or '}'"),
        ("m{a=1} 1", "double quotes"),
        ('m{a="1} 1', "unterminated"),
        ('m{a="\\x"} 1', "unknown escape"),
        ('m{1a="x"} 1', "label name"),
        ('m{a="x",a="y"} 1', "given twice"),
        ('m{a "x"} 1', "expected '='"),
    ],
)
def test_bad_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(ExpositionError, match=message):
        parse_line(line)


def test_parse_exposition_numbers_lines_and_keeps_going() -> None:
    text = '# TYPE a gauge\na 1\nbroken line here\n\nb{x="y"} 2\n'
    results = list(parse_exposition(text))
    assert [number for number, _ in results] == [2, 3, 5]
    assert isinstance(results[1][1], ExpositionError)
    assert results[2][1] == ParsedSample("b", 2.0, {"x": "y"})


label_values = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@given(
    name=st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", fullmatch=True),
    labels=st.dictionaries(
        st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True), label_values, max_size=4
    ),
    value=st.floats(allow_nan=False),
)
def test_parser_round_trips_what_a_writer_would_print(
    name: str, labels: dict[str, str], value: float
) -> None:
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    rendered = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
    line = f"{name}{{{rendered}}} {value!r}"
    parsed = parse_line(line)
    assert parsed == ParsedSample(name, value, labels)


@given(st.text(max_size=200))
def test_parser_never_crashes_on_garbage(text: str) -> None:
    for _, result in parse_exposition(text):
        assert isinstance(result, ParsedSample | ExpositionError)


# ------------------------------------------------------------------ reader


def write(path: Path, text: str, *, executable: bool = False) -> Path:
    path.write_text(text)
    if executable:
        path.chmod(0o755)
    return path


def reader(directory: Path, **kwargs: float) -> GenericMetricsReader:
    return GenericMetricsReader(directory, clock=lambda: NOW_S, **kwargs)  # type: ignore[arg-type]


def by_name(directory: Path, **kwargs: float) -> dict[str, tuple[float, dict[str, str], int]]:
    r = reader(directory, **kwargs)
    try:
        return {m.name: (m.value, dict(m.labels), m.timestamp_unix_ms) for m in r.sample()}
    finally:
        r.close()


def test_prom_files_and_scripts_are_read(tmp_path: Path) -> None:
    write(
        tmp_path / "app.prom", '# TYPE app_users gauge\napp_users{tier="free"} 42\napp_jobs 3 1600000000000\n'
    )
    write(tmp_path / "backup.sh", "#!/bin/sh\necho 'backup_age_seconds{db=\"main\"} 3600'\n", executable=True)
    write(tmp_path / "README.txt", "not_a_metric 1\n")  # neither .prom nor executable
    write(tmp_path / ".hidden.prom", "hidden 1\n")
    write(tmp_path / "old.sh~", "#!/bin/sh\necho stale 1\n", executable=True)
    assert by_name(tmp_path) == {
        "app_users": (42.0, {"tier": "free"}, NOW_MS),
        "app_jobs": (3.0, {}, 1_600_000_000_000),
        "backup_age_seconds": (3600.0, {"db": "main"}, NOW_MS),
    }


def test_bad_lines_are_logged_once_with_file_and_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = write(tmp_path / "x.prom", "good 1\nbad line\nalso_good 2\nnan_metric NaN\ninf_metric -Inf\n")
    r = reader(tmp_path)
    with caplog.at_level(logging.WARNING, logger="agent.collectors.generic"):
        first = r.sample()
        second = r.sample()
    r.close()
    assert [m.name for m in first] == ["good", "also_good"] == [m.name for m in second]
    messages = [rec.getMessage() for rec in caplog.records]
    assert len(messages) == 3, messages  # one per bad line, not one per sample
    assert f"{source} line 2:" in messages[0]
    assert "line 4" in messages[1] and "nan" in messages[1]
    assert "line 5" in messages[2]


def test_a_failing_script_is_ignored_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "fails.sh", "#!/bin/sh\necho half_done 1\necho oops >&2\nexit 2\n", executable=True)
    write(tmp_path / "ok.prom", "fine 1\n")
    with caplog.at_level(logging.WARNING, logger="agent.collectors.generic"):
        assert list(by_name(tmp_path)) == ["fine"]
    (message,) = [rec.getMessage() for rec in caplog.records]
    assert "exited with status 2" in message and "oops" in message


def test_a_slow_script_is_killed_with_its_children(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    marker = tmp_path / "child.pid"
    write(
        tmp_path / "slow.sh",
        f"#!/bin/sh\nsleep 30 &\necho $! > {marker}\necho slow_metric 1\nwait\n",
        executable=True,
    )
    write(tmp_path / "fast.sh", "#!/bin/sh\necho fast_metric 1\n", executable=True)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="agent.collectors.generic"):
        metrics = by_name(tmp_path, script_timeout_s=0.5)
    assert time.monotonic() - started < 5.0
    assert list(metrics) == ["fast_metric"]
    assert any("longer than 0.5 s" in rec.getMessage() for rec in caplog.records)
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the script's child survived the timeout"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_world_writable_scripts_are_not_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    script = write(tmp_path / "open.sh", "#!/bin/sh\necho pwned 1\n", executable=True)
    script.chmod(script.stat().st_mode | stat.S_IWOTH)
    with caplog.at_level(logging.WARNING, logger="agent.collectors.generic"):
        assert by_name(tmp_path) == {}
    assert "world-writable" in caplog.text


def test_missing_directory_gives_no_metrics_and_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    r = reader(tmp_path / "absent")
    with caplog.at_level(logging.WARNING, logger="agent.collectors.generic"):
        assert r.sample() == []
        assert r.sample() == []
    assert len(caplog.records) == 1


def test_oversized_output_is_cut_at_a_line_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.collectors.generic.MAX_OUTPUT_BYTES", 20)
    write(tmp_path / "big.prom", "a 1\nbb 2\nccc 3\ndddd 4\neeeee 5\n")  # 4+5+6 = 15 bytes fit
    assert list(by_name(tmp_path)) == ["a", "bb", "ccc"]


def test_scripts_run_in_the_metrics_directory(tmp_path: Path) -> None:
    write(
        tmp_path / "where.sh",
        '#!/bin/sh\necho "cwd_ok $(test "$PWD" = "' + str(tmp_path) + '" && echo 1 || echo 0)"\n',
        executable=True,
    )
    assert by_name(tmp_path)["cwd_ok"][0] == 1.0
    assert os.getcwd() != str(tmp_path)
