"""Custom metrics from a local directory: ``*.prom`` text files and executable scripts.

Each ``*.prom`` file is read, and each executable script is run with a timeout
(concurrently, in its own process group so a timeout kills its children too);
the text is parsed by ``agent.collectors.exposition``. Bad lines are logged
with file and line number and skipped; NaN and infinite values are skipped.
Problems are logged once, not on every interval. See docs/custom-metrics.md.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from agent.collectors.exposition import ExpositionError, parse_exposition
from agent.host_text import host_text
from proto import agent_pb2

__all__ = ["DEFAULT_METRICS_DIRECTORY", "MAX_OUTPUT_BYTES", "GenericMetricsReader"]

log = logging.getLogger(__name__)

DEFAULT_METRICS_DIRECTORY = Path("/etc/tidewatch/metrics.d")
MAX_OUTPUT_BYTES = 1024 * 1024
_IGNORED_SUFFIXES = (
    "~",
    ".swp",
    ".bak",
    ".orig",
    ".dpkg-old",
    ".dpkg-new",
    ".dpkg-dist",
    ".rpmnew",
    ".rpmsave",
)
_MAX_REMEMBERED_WARNINGS = 2000


@dataclass(frozen=True, slots=True)
class _Output:
    source: Path
    text: str | None  # None: nothing usable (failed, timed out, unreadable)


class _WarnOnce:
    """Remembers which problems were already logged, so a broken script is not logged every interval."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def warn(self, source: Path, key: str, message: str, *args: object) -> None:
        if (str(source), key) in self._seen:
            return
        if len(self._seen) >= _MAX_REMEMBERED_WARNINGS:
            self._seen.clear()
        self._seen.add((str(source), key))
        log.warning(message, *args)

    def forget(self, source: Path, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._seen.discard((str(source), key))


class GenericMetricsReader:
    """Reads ``directory`` on every ``sample()`` and returns the metrics found."""

    def __init__(
        self,
        directory: Path = DEFAULT_METRICS_DIRECTORY,
        *,
        script_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        max_workers: int = 4,
    ) -> None:
        self._directory = Path(directory)
        self._timeout_s = script_timeout_s
        self._clock = clock
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._warnings = _WarnOnce()

    def sample(self) -> list[agent_pb2.GenericMetric]:
        """Every valid sample from every file and script, in file-name order."""
        now_ms = int(self._clock() * 1000)
        files, scripts = self._sources()
        outputs = [self._read_file(path) for path in files]
        if scripts:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="metrics-script")
            outputs.extend(self._pool.map(self._run_script, scripts))
        metrics: list[agent_pb2.GenericMetric] = []
        for output in sorted(outputs, key=lambda o: o.source.name):
            if output.text is not None:
                metrics.extend(self._parse(output.source, output.text, now_ms))
        return metrics

    def close(self) -> None:
        """Stop the script worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _sources(self) -> tuple[list[Path], list[Path]]:
        try:
            entries = sorted(os.scandir(self._directory), key=lambda e: e.name)
        except OSError as exc:
            self._warnings.warn(
                self._directory, "dir", "custom metrics directory %s unreadable: %s", self._directory, exc
            )
            return [], []
        self._warnings.forget(self._directory, ("dir",))
        files: list[Path] = []
        scripts: list[Path] = []
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(_IGNORED_SUFFIXES):
                continue
            path = Path(entry.path)
            try:
                info = entry.stat()  # follows symlinks
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if entry.name.endswith(".prom"):
                files.append(path)
            elif os.access(path, os.X_OK):
                if info.st_mode & stat.S_IWOTH:
                    self._warnings.warn(path, "perm", "not running world-writable script %s", path)
                    continue
                scripts.append(path)
        return files, scripts

    def _read_file(self, path: Path) -> _Output:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_OUTPUT_BYTES + 1)
        except OSError as exc:
            self._warnings.warn(path, "read", "cannot read %s: %s", path, exc)
            return _Output(path, None)
        self._warnings.forget(path, ("read",))
        return _Output(path, self._decode(path, data))

    def _run_script(self, path: Path) -> _Output:
        try:
            process = subprocess.Popen(
                [str(path)],
                cwd=self._directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout kills the children too
            )
        except OSError as exc:
            self._warnings.warn(path, "start", "cannot run %s: %s", path, exc)
            return _Output(path, None)
        try:
            stdout, stderr = process.communicate(timeout=self._timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            self._warnings.warn(path, "timeout", "%s took longer than %.1f s; killed", path, self._timeout_s)
            return _Output(path, None)
        if process.returncode != 0:
            tail = stderr.decode(errors="replace").strip()[-500:]
            self._warnings.warn(
                path,
                "exit",
                "%s exited with status %d; output ignored. stderr: %s",
                path,
                process.returncode,
                tail,
            )
            return _Output(path, None)
        self._warnings.forget(path, ("start", "timeout", "exit"))
        return _Output(path, self._decode(path, stdout))

    def _decode(self, path: Path, data: bytes) -> str:
        if len(data) > MAX_OUTPUT_BYTES:
            self._warnings.warn(
                path, "size", "%s gave more than %d bytes; the rest is ignored", path, MAX_OUTPUT_BYTES
            )
            data = data[: data.rfind(b"\n", 0, MAX_OUTPUT_BYTES) + 1]
        return data.decode("utf-8", errors="replace")

    def _parse(self, source: Path, text: str, now_ms: int) -> list[agent_pb2.GenericMetric]:
        metrics: list[agent_pb2.GenericMetric] = []
        for number, parsed in parse_exposition(text):
            if isinstance(parsed, ExpositionError):
                self._warnings.warn(
                    source, f"line {number}: {parsed}", "%s line %d: %s; skipped", source, number, parsed
                )
                continue
            if not math.isfinite(parsed.value):
                self._warnings.warn(
                    source,
                    f"line {number}: nan",
                    "%s line %d: %s is %s; skipped",
                    source,
                    number,
                    parsed.name,
                    parsed.value,
                )
                continue
            metrics.append(
                agent_pb2.GenericMetric(
                    timestamp_unix_ms=parsed.timestamp_ms if parsed.timestamp_ms is not None else now_ms,
                    name=host_text(parsed.name, "generic_metric"),
                    value=parsed.value,
                    labels={
                        host_text(k, "generic_metric"): host_text(v, "generic_metric")
                        for k, v in parsed.labels.items()
                    },
                )
            )
        return metrics


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    # Do not read the pipes again: a child that left the group may hold them open.
    process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
