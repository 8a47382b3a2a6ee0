"""The agent's data collection: what is measured, never how it is sent.

One module per source, each importable alone (importing this package pulls in
neither psutil nor the Docker SDK):

- ``host_info``: static facts for the handshake (``collect_host_info``).
- ``host``: performance snapshots (``HostCollector``), built from ``mounts``,
  ``disk_io`` and ``net_io``.
- ``rates``: every counter-to-rate and reset-aware delta calculation.
- ``docker_stats``: containers and their resource use (``DockerCollector``),
  with the pure JSON conversions in ``docker_parse``, the when-to-inspect rule in
  ``docker_status`` and stats read from cgroup files by ``cgroups`` (parsers in
  ``cgroup_parse``).
- ``generic``: custom metrics from files and scripts (``GenericMetricsReader``),
  parsed by ``exposition``.

Every sampler is blocking and cheap; the runtime calls it from a worker thread.
"""
