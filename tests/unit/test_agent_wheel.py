"""The agent's wheel the API serves, the one-line command, and the pieces they are made of."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tomllib
import zipfile
from pathlib import Path

from api.agent_install.wheel import SourceTree, build_wheel, common_modules_of
from common.install import join_host_port, one_line_install_command
from dashboards.settings_format import keep_text

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path = ROOT) -> SourceTree:
    return SourceTree(
        root=root,
        version="0.1.0",
        requires_python=">=3.11",
        requires=("grpcio==1.85.3", "protobuf==7.36.2", "psutil==7.2.2", "docker==7.1.0"),
        entry_point="agent.main:main",
    )


def _names(content: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(content)).namelist()


def test_the_installed_metadata_is_pyprojects_agent_set() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    tree = SourceTree.installed()
    assert sorted(tree.requires) == sorted(declared)
    assert tree.entry_point == "agent.main:main" and tree.root == ROOT


def test_only_the_agents_packages_go_in() -> None:
    names = _names(build_wheel(_tree()).content)
    top = {name.split("/")[0] for name in names}
    dist_info = {name for name in top if name.endswith(".dist-info")}
    assert top - dist_info == {"agent", "proto", "common"}
    assert {n for n in names if n.startswith("common/")} == {
        "common/__init__.py",
        "common/addresses.py",
        "common/backoff.py",
        "common/change_signal.py",
    }
    assert "agent/main.py" in names and "proto/agent_pb2.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_common_modules_follow_imports_transitively(tmp_path: Path) -> None:
    (tmp_path / "agent").mkdir()
    (tmp_path / "common").mkdir()
    (tmp_path / "agent" / "a.py").write_text("from common.one import x\nimport json\n")
    (tmp_path / "common" / "__init__.py").write_text("")
    (tmp_path / "common" / "one.py").write_text("from common import two\nfrom common.three import y\n")
    (tmp_path / "common" / "three.py").write_text("y = 1\n")
    (tmp_path / "common" / "unused.py").write_text("import msgspec\n")
    found = [p.name for p in common_modules_of(tmp_path)]
    assert found == ["__init__.py", "one.py", "three.py"]


def test_metadata_record_and_entry_point() -> None:
    wheel = build_wheel(_tree())
    archive = zipfile.ZipFile(io.BytesIO(wheel.content))
    stem = f"tidewatch_agent-{wheel.version}"
    assert wheel.filename == f"{stem}-py3-none-any.whl"
    metadata = archive.read(f"{stem}.dist-info/METADATA").decode()
    assert "Name: tidewatch-agent\n" in metadata and "Requires-Python: >=3.11\n" in metadata
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist")] == [
        "Requires-Dist: grpcio==1.85.3",
        "Requires-Dist: protobuf==7.36.2",
        "Requires-Dist: psutil==7.2.2",
        "Requires-Dist: docker==7.1.0",
    ]
    entry_points = archive.read(f"{stem}.dist-info/entry_points.txt").decode()
    assert entry_points == "[console_scripts]\ntidewatch-agent = agent.main:main\n"
    record = archive.read(f"{stem}.dist-info/RECORD").decode().splitlines()
    assert set(archive.namelist()) == {line.split(",")[0] for line in record}
    for line in record:
        name, digest, size = line.split(",")
        if name.endswith("RECORD"):
            assert (digest, size) == ("", "")
            continue
        data = archive.read(name)
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}" and int(size) == len(data)


def test_same_code_same_bytes_changed_code_new_version(tmp_path: Path) -> None:
    first, second = build_wheel(_tree()), build_wheel(_tree())
    assert first.content == second.content and first.sha256 == second.sha256
    assert first.sha256 == hashlib.sha256(first.content).hexdigest()
    copy = tmp_path / "checkout"
    for package in ("agent", "proto", "common"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert build_wheel(_tree(copy)).version == first.version
    with (copy / "agent" / "main.py").open("a") as f:
        f.write("\n# changed\n")
    changed = build_wheel(_tree(copy))
    assert changed.version != first.version and changed.version.startswith("0.1.0+")


def test_the_one_line_command_quotes_what_it_must() -> None:
    assert one_line_install_command("https://tw.example.com/", "twa_k.s") == (
        "curl -fsSL https://tw.example.com/agent/install.sh | sudo bash -s -- --token twa_k.s"
    )
    assert one_line_install_command("http://h:8000/base", "a'b") == (
        "curl -fsSL http://h:8000/base/agent/install.sh | sudo bash -s -- --token 'a'\"'\"'b'"
    )


def test_host_and_port_join_as_the_agent_reads_them() -> None:
    assert join_host_port("collector.example.com", 443) == "collector.example.com:443"
    assert join_host_port("2001:db8::5", 50051) == "[2001:db8::5]:50051"
    assert join_host_port("[2001:db8::5]", 50051) == "[2001:db8::5]:50051"


def test_retention_periods_read_as_days_or_hours() -> None:
    assert keep_text(7 * 86400) == "7 days"
    assert keep_text(86400) == "1 day"
    assert keep_text(3600) == "1 hour"
    assert keep_text(5400) == "1h 30m"
