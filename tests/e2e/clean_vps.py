"""A clean Debian VPS in a container: the image scripts/clean-debian-image.sh makes, and
the package index settings of this machine handed to it.

``sudo`` resets the environment, so PIP_* variables would not reach the pip the install
script runs; the settings go in as the container's /etc/pip.conf instead, as a VPS with
a package mirror would have them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from tests.prerequisites import missing

__all__ = ["CLEAN_IMAGE", "PipAccess", "ensure_clean_image", "host_pip_access"]


REPO = Path(__file__).resolve().parents[2]
CLEAN_IMAGE = os.environ.get("TIDEWATCH_CLEAN_DEBIAN_IMAGE", "tidewatch/clean-debian:bookworm")
CONTAINER_CA = "/tidewatch-host/ca-certificates.crt"
_KEYS = {"index-url", "extra-index-url", "find-links", "cert", "default-timeout", "timeout"}


def ensure_clean_image() -> str:
    """The clean Debian image, built once per machine (about a minute the first time)."""
    script = REPO / "scripts" / "clean-debian-image.sh"
    try:
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        missing(f"a clean Debian image ({script} did not finish within 900 s)")
    if result.returncode != 0:
        missing(f"a clean Debian image ({script} exited {result.returncode}):\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@dataclass
class PipAccess:
    """What the container's pip needs to reach the package index as this machine does."""

    config: dict[str, str] = field(default_factory=dict)
    # host path -> container path, read-only
    mounts: dict[str, str] = field(default_factory=dict)

    def pip_conf(self) -> str:
        return "[global]\n" + "".join(f"{key} = {value}\n" for key, value in sorted(self.config.items()))


def _local_paths(value: str) -> list[str]:
    paths = []
    for item in value.split():
        path = urlparse(item).path if item.startswith("file://") else item
        if path.startswith("/") and Path(path).exists():
            paths.append(path)
    return paths


def host_pip_access() -> PipAccess:
    """This machine's index settings (``pip config list``: files and PIP_* variables)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    access = PipAccess()
    for line in listed.splitlines():
        name, sep, quoted = line.partition("=")
        key = name.rsplit(".", 1)[-1]
        if not sep or key not in _KEYS:
            continue
        value = str(ast.literal_eval(quoted))
        # Later lines (the environment's) override the files'.
        access.config["timeout" if key == "default-timeout" else key] = value
    if "cert" in access.config:
        access.mounts[access.config["cert"]] = CONTAINER_CA
        access.config["cert"] = CONTAINER_CA
    for key in ("index-url", "extra-index-url", "find-links"):
        for path in _local_paths(access.config.get(key, "")):
            # A local "simple" index links to files beside it (../../files/...): mount its parent.
            mounted = str(Path(path).parent) if Path(path).name == "simple" else path
            access.mounts[mounted] = mounted
    return access
