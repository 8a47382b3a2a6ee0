"""HostInfo: os-release and cpuinfo parsing, virtualization detection, the real host."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from agent.collectors.host_info import (
    collect_host_info,
    cpu_model_from_cpuinfo,
    detect_virtualization,
    parse_os_release,
)

OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
ID=debian
# a comment
HOME_URL='https://www.debian.org/'
"""


def test_parse_os_release() -> None:
    values = parse_os_release(OS_RELEASE)
    assert values["NAME"] == "Debian GNU/Linux"
    assert values["VERSION_ID"] == "12"
    assert values["ID"] == "debian"
    assert values["HOME_URL"] == "https://www.debian.org/"
    assert "# a comment" not in values


X86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu hypervisor\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
ARM = "processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"


@pytest.mark.parametrize(
    ("text", "model"),
    [(X86, "AMD EPYC 7B13"), (ARM, "Raspberry Pi 4 Model B Rev 1.4"), ("processor : 0\n", "")],
)
def test_cpu_model(text: str, model: str) -> None:
    assert cpu_model_from_cpuinfo(text) == model


def _root(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"proc/cpuinfo": "flags\t: fpu sse\n"}, "none"),
        ({"proc/cpuinfo": "flags\t: fpu hypervisor\n"}, "vm"),
        ({"sys/class/dmi/id/sys_vendor": "QEMU\n", "sys/class/dmi/id/product_name": "Standard PC\n"}, "qemu"),
        ({"sys/class/dmi/id/product_name": "KVM\n"}, "kvm"),
        ({"sys/class/dmi/id/sys_vendor": "VMware, Inc.\n"}, "vmware"),
        ({"sys/class/dmi/id/product_name": "VirtualBox\n"}, "oracle"),
        ({"sys/class/dmi/id/sys_vendor": "Microsoft Corporation\n"}, "microsoft"),
        ({"sys/class/dmi/id/sys_vendor": "Hetzner\n"}, "kvm"),
        ({"sys/hypervisor/type": "xen\n"}, "xen"),
        ({".dockerenv": ""}, "docker"),
        ({"run/systemd/container": "lxc\n"}, "lxc"),
        ({"proc/1/environ": "PATH=/bin\0container=podman\0"}, "podman"),
        ({"proc/vz/veinfo": ""}, "openvz"),
        ({"sys/class/dmi/id/product_name": "KVM\n", ".dockerenv": ""}, "kvm+docker"),
    ],
)
def test_detect_virtualization(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    assert detect_virtualization(_root(tmp_path, files)) == expected


def test_collect_host_info_on_this_host() -> None:
    info = collect_host_info()
    assert info.hostname
    assert info.os_name
    assert info.kernel_version
    assert info.architecture
    assert info.cpu_logical_cores >= 1
    assert info.memory_total_bytes > 0
    assert info.boot_time_unix_ms > 1_500_000_000_000
    assert info.virtualization
    for text in info.ip_addresses:
        ip = ipaddress.ip_address(text)
        assert not ip.is_loopback and not ip.is_link_local
