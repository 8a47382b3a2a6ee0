"""The agent's own wheel, built from the code this API runs: only ``agent``, ``proto`` and
the standard-library-only ``common`` modules the agent imports.

Its name, requirements and console script come from the installed ``tidewatch``
distribution (pyproject.toml's ``[project]``), so the agent's four dependencies are
declared in one place. The build is a plain zip (PEP 427), deterministic: the same
code gives the same bytes, and its version carries a hash of that code, so a newer
server's install command upgrades an installed agent.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import threading
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import agent

__all__ = ["AgentWheel", "SourceTree", "agent_wheel", "build_wheel", "common_modules_of"]

DISTRIBUTION = "tidewatch"
WHEEL_NAME = "tidewatch-agent"
SCRIPT = "tidewatch-agent"
# Zip entries carry this date, so the bytes depend on the code alone.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SOURCE_SUFFIXES = (".py", ".pyi", ".proto")


@dataclass(frozen=True)
class SourceTree:
    """Where the agent's code is, and the metadata the wheel declares."""

    root: Path
    version: str
    requires_python: str
    requires: tuple[str, ...]
    entry_point: str

    @classmethod
    def installed(cls) -> SourceTree:
        """The tree this process imports ``agent`` from, described by the installed distribution."""
        dist = metadata.distribution(DISTRIBUTION)
        requires = tuple(r for r in dist.requires or () if "extra ==" not in r)
        [script] = [ep for ep in dist.entry_points if ep.group == "console_scripts" and ep.name == SCRIPT]
        return cls(
            root=Path(agent.__file__).resolve().parent.parent,
            version=dist.version,
            requires_python=dist.metadata["Requires-Python"] or ">=3.11",
            requires=requires,
            entry_point=script.value,
        )


@dataclass(frozen=True)
class AgentWheel:
    """A built wheel: its file name (pip reads the version from it), bytes and sha256."""

    filename: str
    version: str
    content: bytes
    sha256: str


def _imported_common_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "common" or name.startswith("common.")}


def common_modules_of(root: Path) -> list[Path]:
    """The ``common`` files the agent imports, directly or through each other."""
    wanted = {root / "common" / "__init__.py"}
    pending = [p for p in (root / "agent").rglob("*.py")]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imported_common_modules(path):
            file = root.joinpath(*module.split(".")).with_suffix(".py")
            if module != "common" and file.is_file() and file not in wanted:
                wanted.add(file)
                pending.append(file)
    return sorted(wanted)


def _package_files(root: Path) -> list[Path]:
    files = [
        path
        for package in ("agent", "proto")
        for path in (root / package).rglob("*")
        if path.is_file() and path.suffix in _SOURCE_SUFFIXES and "__pycache__" not in path.parts
    ]
    return sorted(files + common_modules_of(root))


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _metadata_text(tree: SourceTree, version: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {WHEEL_NAME}",
        f"Version: {version}",
        "Summary: Tidewatch agent: streams host and Docker metrics to a Tidewatch collector",
        f"Requires-Python: {tree.requires_python}",
        *(f"Requires-Dist: {requirement}" for requirement in tree.requires),
    ]
    return "\n".join(lines) + "\n"


def build_wheel(tree: SourceTree) -> AgentWheel:
    """Build the agent's wheel from ``tree``; pure apart from reading the files."""
    files = [
        (path.relative_to(tree.root).as_posix(), path.read_bytes()) for path in _package_files(tree.root)
    ]
    code_hash = hashlib.sha256()
    for name, data in files:
        code_hash.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    version = f"{tree.version.split('+')[0]}+{code_hash.hexdigest()[:12]}"
    stem = f"{WHEEL_NAME.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    files += [
        (f"{dist_info}/METADATA", _metadata_text(tree, version).encode()),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: tidewatch-api\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (f"{dist_info}/entry_points.txt", f"[console_scripts]\n{SCRIPT} = {tree.entry_point}\n".encode()),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files)
    record += f"{dist_info}/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in [*files, (f"{dist_info}/RECORD", record.encode())]:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    content = buffer.getvalue()
    return AgentWheel(
        filename=f"{stem}-py3-none-any.whl",
        version=version,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


_built: AgentWheel | None = None
_lock = threading.Lock()


def agent_wheel() -> AgentWheel:
    """The wheel of the code this process runs, built on first use and kept (call from a thread)."""
    global _built
    with _lock:
        if _built is None:
            _built = build_wheel(SourceTree.installed())
        return _built
