"""``tidewatch-agent``: the command-line entry point of the agent."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from importlib import metadata
from pathlib import Path

from agent.config import DEFAULT_CONFIG_PATH, AgentSettings, ConfigError, load_config
from agent.runtime.agent import AgentRuntime
from agent.runtime.sampling import Samplers

__all__ = ["agent_version", "build_runtime", "main"]

log = logging.getLogger("agent")

EXIT_CONFIG = 2


# The whole project, or the agent-only wheel the API serves to VPSes (api/agent_install).
DISTRIBUTIONS = ("tidewatch", "tidewatch-agent")


def agent_version() -> str:
    """The installed package version."""
    for name in DISTRIBUTIONS:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "0.0.0+unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tidewatch-agent",
        description="Tidewatch agent: streams host and Docker metrics to a collector "
        "and runs the commands it is allowed to.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"config file (default: $TIDEWATCH_AGENT_CONFIG or {DEFAULT_CONFIG_PATH})",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="print one sample as JSON and exit")
    mode.add_argument("--check-config", action="store_true", help="validate the config and exit")
    parser.add_argument("--no-docker", action="store_true", help="with --once: skip Docker")
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="override log_level"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {agent_version()}")
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The Docker SDK's HTTP stack is chatty at debug level.
    for noisy in ("urllib3", "docker"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))


def _describe(settings: AgentSettings) -> str:
    enabled = [name for name, on in settings.features.__dict__.items() if on]
    return (
        f"config OK ({settings.source})\n"
        f"  collector: {settings.server.address} (tls {'on' if settings.tls.enabled else 'OFF'})\n"
        f"  spool: {settings.spool.directory} (max {settings.spool.max_bytes} bytes)\n"
        f"  features: {', '.join(enabled) or 'none'}"
    )


def build_runtime(settings: AgentSettings) -> AgentRuntime:
    """The runtime wired to the real collectors."""
    # Imported here so --check-config and --help work without touching psutil or Docker.
    from agent.collectors.host import HostCollector
    from agent.collectors.host_info import collect_host_info

    host = HostCollector(mount_include=settings.mount_include, mount_exclude=settings.mount_exclude)
    docker_sample = None
    if settings.features.docker:
        from agent.collectors.docker_stats import DockerCollector

        docker_sample = DockerCollector(
            base_url=settings.docker_base_url, cgroup_root=settings.docker_cgroup_root
        ).sample
    generic_sample = None
    directory = settings.generic_metrics_directory
    if directory is not None and directory.is_dir():
        from agent.collectors.generic import GenericMetricsReader

        generic_sample = GenericMetricsReader(directory).sample
    elif directory is not None:
        log.info("no custom metrics: %s does not exist (create it and restart)", directory)
    samplers = Samplers(snapshot=host.sample, docker=docker_sample, generic=generic_sample)
    return AgentRuntime(
        settings, samplers=samplers, host_info=collect_host_info, agent_version=agent_version()
    )


async def _serve(runtime: AgentRuntime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s again: already stopping", sig.name)
            return
        log.info("%s received: shutting down", sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    await runtime.run(stop)


def _once(args: argparse.Namespace) -> int:
    """One sample as JSON, with the config's Docker switch and custom-metrics directory."""
    from agent.once import run_once

    try:
        settings = load_config(args.config, need_collector=False)
    except ConfigError as exc:
        print(f"tidewatch-agent: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    directory = settings.generic_metrics_directory
    if directory is not None and not directory.is_dir():
        print(f"tidewatch-agent: no custom metrics: {directory} does not exist", file=sys.stderr)
        directory = None
    with_docker = settings.features.docker and not args.no_docker
    print(run_once(with_docker=with_docker, generic_metrics_directory=directory))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the agent; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.once:
        return _once(args)
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        print(f"tidewatch-agent: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        print(_describe(settings))
        return 0
    _setup_logging(args.log_level or settings.log_level)
    try:
        runtime = build_runtime(settings)
    except OSError as exc:
        log.critical("cannot start: %s", exc)
        return 1
    try:
        asyncio.run(_serve(runtime))
    except RuntimeError as exc:
        log.critical("agent failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
