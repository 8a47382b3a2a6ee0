"""Fixtures for tests against the real Docker engine (scripts/local-docker.sh).

Import the fixtures you use into the test module. Containers made through
``labelled_containers.run`` carry a per-test label and are force-removed by that label
afterwards, even when the test fails.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.prerequisites import missing

__all__ = [
    "BUSYBOX_IMAGE",
    "TEST_LABEL",
    "LabelledContainers",
    "docker_engine",
    "ensure_docker_engine",
    "labelled_containers",
]

REPO = Path(__file__).resolve().parent.parent
BUSYBOX_IMAGE = "tidewatch/busybox:local"
TEST_LABEL = "tidewatch.test"


def ensure_docker_engine() -> None:
    """Run scripts/local-docker.sh; when the engine cannot start, fail in CI, skip elsewhere."""
    script = REPO / "scripts" / "local-docker.sh"
    try:
        result = subprocess.run([str(script)], capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        missing(f"the Docker engine ({script} did not finish within 300 s)")
    if result.returncode != 0:
        missing(f"the Docker engine ({script} exited {result.returncode}):\n{result.stderr}")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A ``docker.DockerClient`` for the real engine, started if needed."""
    ensure_docker_engine()
    client = docker.from_env(timeout=30)
    yield client
    client.close()


class LabelledContainers:
    """Starts busybox containers that all carry one label, and removes them by it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.label_value = f"t-{secrets.token_hex(4)}"

    @property
    def selector(self) -> str:
        return f"{TEST_LABEL}={self.label_value}"

    def run(self, command: str | list[str], **kwargs: Any) -> Any:
        """A detached container from the busybox image (no network unless given)."""
        labels = {TEST_LABEL: self.label_value, **kwargs.pop("labels", {})}
        kwargs.setdefault("network_mode", "none")
        return self.client.containers.run(BUSYBOX_IMAGE, command, detach=True, labels=labels, **kwargs)

    def remove_all(self) -> None:
        for container in self.client.containers.list(all=True, filters={"label": self.selector}):
            container.remove(force=True)


@pytest.fixture
def labelled_containers(docker_engine: Any) -> Iterator[LabelledContainers]:
    """Containers for one test, force-removed by label afterwards."""
    containers = LabelledContainers(docker_engine)
    yield containers
    containers.remove_all()
