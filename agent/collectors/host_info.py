"""Static facts about the host, sent once per connection in the handshake (``HostInfo``).

Everything here is read from small files under /proc, /sys and /etc, so it
costs a few milliseconds at most; nothing runs a subprocess.
"""

from __future__ import annotations

import ipaddress
import logging
import platform
import socket
from pathlib import Path

import psutil

from agent.host_text import altered_facts, host_text
from proto import agent_pb2

__all__ = [
    "collect_host_info",
    "cpu_model_from_cpuinfo",
    "detect_virtualization",
    "local_ip_addresses",
    "parse_os_release",
]

log = logging.getLogger(__name__)

# Substrings of DMI vendor/product names, checked in order, and what
# systemd-detect-virt calls them.
_DMI_VENDORS: tuple[tuple[str, str], ...] = (
    ("kvm", "kvm"),
    ("qemu", "qemu"),
    ("vmware", "vmware"),
    ("virtualbox", "oracle"),
    ("innotek", "oracle"),
    ("xen", "xen"),
    ("amazon ec2", "amazon"),
    ("google compute engine", "google"),
    ("microsoft corporation", "microsoft"),
    ("parallels", "parallels"),
    ("bochs", "bochs"),
    ("bhyve", "bhyve"),
    ("openstack", "kvm"),
    ("digitalocean", "kvm"),
    ("hetzner", "kvm"),
    ("vultr", "kvm"),
    ("linode", "kvm"),
)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def parse_os_release(text: str) -> dict[str, str]:
    """``/etc/os-release`` as a dict, quotes removed."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values[key.strip()] = value
    return values


def cpu_model_from_cpuinfo(text: str) -> str:
    """The CPU model name from ``/proc/cpuinfo`` (x86 ``model name``, or what ARM and others offer)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    for key in ("model name", "Model", "Hardware", "cpu model", "cpu", "uarch", "Processor"):
        if fields.get(key):
            return fields[key]
    return ""


def detect_virtualization(root: Path = Path("/")) -> str:
    """What the host runs in, cheaply: ``kvm``, ``vmware``, ``docker``, ``lxc``, ``vm+docker``…

    ``none`` on bare metal; ``vm`` when the CPU reports a hypervisor whose
    vendor the firmware does not name.
    """
    container = _detect_container(root)
    vm = _detect_vm(root)
    found = [name for name in (vm, container) if name]
    return "+".join(found) or "none"


def _detect_container(root: Path) -> str:
    systemd_says = _read(root / "run/systemd/container").strip()
    if systemd_says:
        return systemd_says
    environ = _read(root / "proc/1/environ")
    for item in environ.split("\0"):
        if item.startswith("container="):
            return item.removeprefix("container=") or "container"
    if (root / ".dockerenv").exists():
        return "docker"
    if (root / "run/.containerenv").exists():
        return "podman"
    if (root / "proc/vz").exists() and not (root / "proc/bc").exists():
        return "openvz"
    if "microsoft" in _read(root / "proc/sys/kernel/osrelease").lower():
        return "wsl"
    return ""


def _detect_vm(root: Path) -> str:
    dmi = root / "sys/class/dmi/id"
    firmware = " ".join(
        _read(dmi / name).strip().lower() for name in ("sys_vendor", "product_name", "bios_vendor")
    )
    for needle, name in _DMI_VENDORS:
        if needle in firmware:
            return name
    hypervisor = _read(root / "sys/hypervisor/type").strip()
    if hypervisor:
        return hypervisor
    for line in _read(root / "proc/cpuinfo").splitlines():
        if line.startswith("flags"):
            return "vm" if "hypervisor" in line.split() else ""
    return ""


def local_ip_addresses() -> list[str]:
    """Addresses on the host's interfaces, without loopback and IPv6 link-local ones."""
    found: set[str] = set()
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            try:
                ip = ipaddress.ip_address(address.address.split("%", 1)[0])
            except ValueError:
                continue
            if ip.is_loopback or ip.is_link_local or ip.is_unspecified:
                continue
            found.add(str(ip))
    return sorted(found, key=lambda text: (":" in text, text))


def collect_host_info() -> agent_pb2.HostInfo:
    """Hostname, OS, kernel, CPU, memory, boot time, addresses and virtualization of this host.

    Every string goes through :func:`host_text`, and whatever else goes wrong
    leaves the facts empty: a host fact never keeps the agent from connecting.
    """
    try:
        return _collect()
    except Exception:
        log.exception("could not read the host's facts; connecting without them")
        return agent_pb2.HostInfo(sanitised_fields=altered_facts())


def _collect() -> agent_pb2.HostInfo:
    os_release = parse_os_release(_read(Path("/etc/os-release")) or _read(Path("/usr/lib/os-release")))
    uname = platform.uname()
    texts = {
        "hostname": socket.gethostname(),
        "os_name": os_release.get("NAME") or uname.system,
        "os_version": os_release.get("VERSION_ID")
        or os_release.get("VERSION")
        or os_release.get("BUILD_ID", ""),
        "kernel_version": uname.release,
        "architecture": uname.machine,
        "cpu_model": cpu_model_from_cpuinfo(_read(Path("/proc/cpuinfo"))) or uname.processor,
        "virtualization": detect_virtualization(),
    }
    info = agent_pb2.HostInfo(
        **{field: host_text(value, field) for field, value in texts.items()},
        cpu_physical_cores=psutil.cpu_count(logical=False) or 0,
        cpu_logical_cores=psutil.cpu_count(logical=True) or 0,
        memory_total_bytes=psutil.virtual_memory().total,
        swap_total_bytes=psutil.swap_memory().total,
        boot_time_unix_ms=int(psutil.boot_time() * 1000),
    )
    try:
        info.ip_addresses.extend(host_text(ip, "ip_addresses") for ip in local_ip_addresses())
    except OSError as exc:
        log.warning("could not list the host's IP addresses: %s", exc)
    # Facts escaped so far, these and the ones sampled since start (mounts, interfaces, ...).
    info.sanitised_fields.extend(altered_facts())
    return info
