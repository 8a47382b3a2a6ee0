from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CommandStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_STATUS_UNSPECIFIED: _ClassVar[CommandStatus]
    COMMAND_STATUS_ACCEPTED: _ClassVar[CommandStatus]
    COMMAND_STATUS_RUNNING: _ClassVar[CommandStatus]
    COMMAND_STATUS_SUCCEEDED: _ClassVar[CommandStatus]
    COMMAND_STATUS_FAILED: _ClassVar[CommandStatus]
    COMMAND_STATUS_TIMED_OUT: _ClassVar[CommandStatus]
    COMMAND_STATUS_CANCELLED: _ClassVar[CommandStatus]
    COMMAND_STATUS_REJECTED: _ClassVar[CommandStatus]
COMMAND_STATUS_UNSPECIFIED: CommandStatus
COMMAND_STATUS_ACCEPTED: CommandStatus
COMMAND_STATUS_RUNNING: CommandStatus
COMMAND_STATUS_SUCCEEDED: CommandStatus
COMMAND_STATUS_FAILED: CommandStatus
COMMAND_STATUS_TIMED_OUT: CommandStatus
COMMAND_STATUS_CANCELLED: CommandStatus
COMMAND_STATUS_REJECTED: CommandStatus

class MessageToServer(_message.Message):
    __slots__ = ("agent_handshake", "performance_batch", "docker_batch", "generic_metrics_batch", "command_response", "pty_data", "heartbeat", "batch_bundle")
    AGENT_HANDSHAKE_FIELD_NUMBER: _ClassVar[int]
    PERFORMANCE_BATCH_FIELD_NUMBER: _ClassVar[int]
    DOCKER_BATCH_FIELD_NUMBER: _ClassVar[int]
    GENERIC_METRICS_BATCH_FIELD_NUMBER: _ClassVar[int]
    COMMAND_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    PTY_DATA_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    BATCH_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    agent_handshake: AgentHandshake
    performance_batch: PerformanceSnapshotBatch
    docker_batch: DockerInfoBatch
    generic_metrics_batch: GenericMetricsBatch
    command_response: CommandResponse
    pty_data: PtyDataToServer
    heartbeat: Heartbeat
    batch_bundle: BatchBundle
    def __init__(self, agent_handshake: _Optional[_Union[AgentHandshake, _Mapping]] = ..., performance_batch: _Optional[_Union[PerformanceSnapshotBatch, _Mapping]] = ..., docker_batch: _Optional[_Union[DockerInfoBatch, _Mapping]] = ..., generic_metrics_batch: _Optional[_Union[GenericMetricsBatch, _Mapping]] = ..., command_response: _Optional[_Union[CommandResponse, _Mapping]] = ..., pty_data: _Optional[_Union[PtyDataToServer, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., batch_bundle: _Optional[_Union[BatchBundle, _Mapping]] = ...) -> None: ...

class AgentHandshake(_message.Message):
    __slots__ = ("agent_version", "host", "local_features", "oldest_pending_sequence", "newest_pending_sequence", "sequence_epoch", "agent_time_unix_ms", "batch_bundling")
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FEATURES_FIELD_NUMBER: _ClassVar[int]
    OLDEST_PENDING_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    NEWEST_PENDING_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    AGENT_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    BATCH_BUNDLING_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    host: HostInfo
    local_features: FeatureSwitches
    oldest_pending_sequence: int
    newest_pending_sequence: int
    sequence_epoch: int
    agent_time_unix_ms: int
    batch_bundling: BatchBundling
    def __init__(self, agent_version: _Optional[str] = ..., host: _Optional[_Union[HostInfo, _Mapping]] = ..., local_features: _Optional[_Union[FeatureSwitches, _Mapping]] = ..., oldest_pending_sequence: _Optional[int] = ..., newest_pending_sequence: _Optional[int] = ..., sequence_epoch: _Optional[int] = ..., agent_time_unix_ms: _Optional[int] = ..., batch_bundling: _Optional[_Union[BatchBundling, _Mapping]] = ...) -> None: ...

class BatchBundling(_message.Message):
    __slots__ = ("supported", "max_batches", "max_bytes")
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCHES_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    supported: bool
    max_batches: int
    max_bytes: int
    def __init__(self, supported: _Optional[bool] = ..., max_batches: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class BatchBundle(_message.Message):
    __slots__ = ("performance_batches", "docker_batches", "generic_metrics_batches")
    PERFORMANCE_BATCHES_FIELD_NUMBER: _ClassVar[int]
    DOCKER_BATCHES_FIELD_NUMBER: _ClassVar[int]
    GENERIC_METRICS_BATCHES_FIELD_NUMBER: _ClassVar[int]
    performance_batches: _containers.RepeatedCompositeFieldContainer[PerformanceSnapshotBatch]
    docker_batches: _containers.RepeatedCompositeFieldContainer[DockerInfoBatch]
    generic_metrics_batches: _containers.RepeatedCompositeFieldContainer[GenericMetricsBatch]
    def __init__(self, performance_batches: _Optional[_Iterable[_Union[PerformanceSnapshotBatch, _Mapping]]] = ..., docker_batches: _Optional[_Iterable[_Union[DockerInfoBatch, _Mapping]]] = ..., generic_metrics_batches: _Optional[_Iterable[_Union[GenericMetricsBatch, _Mapping]]] = ...) -> None: ...

class HostInfo(_message.Message):
    __slots__ = ("hostname", "os_name", "os_version", "kernel_version", "architecture", "cpu_model", "cpu_physical_cores", "cpu_logical_cores", "memory_total_bytes", "swap_total_bytes", "boot_time_unix_ms", "ip_addresses", "virtualization", "sanitised_fields")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    OS_NAME_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    KERNEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    CPU_MODEL_FIELD_NUMBER: _ClassVar[int]
    CPU_PHYSICAL_CORES_FIELD_NUMBER: _ClassVar[int]
    CPU_LOGICAL_CORES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SWAP_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    BOOT_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    VIRTUALIZATION_FIELD_NUMBER: _ClassVar[int]
    SANITISED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    os_name: str
    os_version: str
    kernel_version: str
    architecture: str
    cpu_model: str
    cpu_physical_cores: int
    cpu_logical_cores: int
    memory_total_bytes: int
    swap_total_bytes: int
    boot_time_unix_ms: int
    ip_addresses: _containers.RepeatedScalarFieldContainer[str]
    virtualization: str
    sanitised_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hostname: _Optional[str] = ..., os_name: _Optional[str] = ..., os_version: _Optional[str] = ..., kernel_version: _Optional[str] = ..., architecture: _Optional[str] = ..., cpu_model: _Optional[str] = ..., cpu_physical_cores: _Optional[int] = ..., cpu_logical_cores: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ..., swap_total_bytes: _Optional[int] = ..., boot_time_unix_ms: _Optional[int] = ..., ip_addresses: _Optional[_Iterable[str]] = ..., virtualization: _Optional[str] = ..., sanitised_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class PerformanceSnapshotBatch(_message.Message):
    __slots__ = ("sequence", "snapshots", "clock_offset_ms", "clock_offset_known")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_KNOWN_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    snapshots: _containers.RepeatedCompositeFieldContainer[PerformanceSnapshot]
    clock_offset_ms: int
    clock_offset_known: bool
    def __init__(self, sequence: _Optional[int] = ..., snapshots: _Optional[_Iterable[_Union[PerformanceSnapshot, _Mapping]]] = ..., clock_offset_ms: _Optional[int] = ..., clock_offset_known: _Optional[bool] = ...) -> None: ...

class PerformanceSnapshot(_message.Message):
    __slots__ = ("timestamp_unix_ms", "cpu_percent", "cpu_per_core_percent", "cpu_user_percent", "cpu_system_percent", "cpu_iowait_percent", "cpu_steal_percent", "load_1", "load_5", "load_15", "memory_total_bytes", "memory_used_bytes", "memory_available_bytes", "memory_cached_bytes", "memory_buffers_bytes", "swap_total_bytes", "swap_used_bytes", "disks", "disk_io", "network_interfaces", "temperatures", "tcp_connections", "udp_connections", "process_count", "uptime_seconds", "memory_shared_bytes")
    TIMESTAMP_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CPU_PER_CORE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CPU_USER_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CPU_SYSTEM_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CPU_IOWAIT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CPU_STEAL_PERCENT_FIELD_NUMBER: _ClassVar[int]
    LOAD_1_FIELD_NUMBER: _ClassVar[int]
    LOAD_5_FIELD_NUMBER: _ClassVar[int]
    LOAD_15_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_AVAILABLE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_CACHED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BUFFERS_BYTES_FIELD_NUMBER: _ClassVar[int]
    SWAP_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SWAP_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISKS_FIELD_NUMBER: _ClassVar[int]
    DISK_IO_FIELD_NUMBER: _ClassVar[int]
    NETWORK_INTERFACES_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURES_FIELD_NUMBER: _ClassVar[int]
    TCP_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    UDP_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    PROCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_SHARED_BYTES_FIELD_NUMBER: _ClassVar[int]
    timestamp_unix_ms: int
    cpu_percent: float
    cpu_per_core_percent: _containers.RepeatedScalarFieldContainer[float]
    cpu_user_percent: float
    cpu_system_percent: float
    cpu_iowait_percent: float
    cpu_steal_percent: float
    load_1: float
    load_5: float
    load_15: float
    memory_total_bytes: int
    memory_used_bytes: int
    memory_available_bytes: int
    memory_cached_bytes: int
    memory_buffers_bytes: int
    swap_total_bytes: int
    swap_used_bytes: int
    disks: _containers.RepeatedCompositeFieldContainer[DiskUsage]
    disk_io: _containers.RepeatedCompositeFieldContainer[DiskIoStats]
    network_interfaces: _containers.RepeatedCompositeFieldContainer[NetworkInterfaceStats]
    temperatures: _containers.RepeatedCompositeFieldContainer[TemperatureReading]
    tcp_connections: int
    udp_connections: int
    process_count: int
    uptime_seconds: int
    memory_shared_bytes: int
    def __init__(self, timestamp_unix_ms: _Optional[int] = ..., cpu_percent: _Optional[float] = ..., cpu_per_core_percent: _Optional[_Iterable[float]] = ..., cpu_user_percent: _Optional[float] = ..., cpu_system_percent: _Optional[float] = ..., cpu_iowait_percent: _Optional[float] = ..., cpu_steal_percent: _Optional[float] = ..., load_1: _Optional[float] = ..., load_5: _Optional[float] = ..., load_15: _Optional[float] = ..., memory_total_bytes: _Optional[int] = ..., memory_used_bytes: _Optional[int] = ..., memory_available_bytes: _Optional[int] = ..., memory_cached_bytes: _Optional[int] = ..., memory_buffers_bytes: _Optional[int] = ..., swap_total_bytes: _Optional[int] = ..., swap_used_bytes: _Optional[int] = ..., disks: _Optional[_Iterable[_Union[DiskUsage, _Mapping]]] = ..., disk_io: _Optional[_Iterable[_Union[DiskIoStats, _Mapping]]] = ..., network_interfaces: _Optional[_Iterable[_Union[NetworkInterfaceStats, _Mapping]]] = ..., temperatures: _Optional[_Iterable[_Union[TemperatureReading, _Mapping]]] = ..., tcp_connections: _Optional[int] = ..., udp_connections: _Optional[int] = ..., process_count: _Optional[int] = ..., uptime_seconds: _Optional[int] = ..., memory_shared_bytes: _Optional[int] = ...) -> None: ...

class DiskUsage(_message.Message):
    __slots__ = ("mountpoint", "device", "fstype", "total_bytes", "used_bytes", "free_bytes", "inodes_total", "inodes_used")
    MOUNTPOINT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    FSTYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    INODES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    INODES_USED_FIELD_NUMBER: _ClassVar[int]
    mountpoint: str
    device: str
    fstype: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    inodes_total: int
    inodes_used: int
    def __init__(self, mountpoint: _Optional[str] = ..., device: _Optional[str] = ..., fstype: _Optional[str] = ..., total_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., inodes_total: _Optional[int] = ..., inodes_used: _Optional[int] = ...) -> None: ...

class DiskIoStats(_message.Message):
    __slots__ = ("device", "read_bytes_per_second", "write_bytes_per_second", "read_ops_per_second", "write_ops_per_second")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    READ_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    WRITE_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    READ_OPS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    WRITE_OPS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    device: str
    read_bytes_per_second: float
    write_bytes_per_second: float
    read_ops_per_second: float
    write_ops_per_second: float
    def __init__(self, device: _Optional[str] = ..., read_bytes_per_second: _Optional[float] = ..., write_bytes_per_second: _Optional[float] = ..., read_ops_per_second: _Optional[float] = ..., write_ops_per_second: _Optional[float] = ...) -> None: ...

class NetworkInterfaceStats(_message.Message):
    __slots__ = ("interface", "rx_bytes_per_second", "tx_bytes_per_second", "rx_packets_per_second", "tx_packets_per_second", "rx_errors", "tx_errors", "rx_drops", "tx_drops", "rx_bytes_delta", "tx_bytes_delta", "rx_bytes_counter", "tx_bytes_counter")
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    RX_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TX_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    RX_PACKETS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TX_PACKETS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    RX_ERRORS_FIELD_NUMBER: _ClassVar[int]
    TX_ERRORS_FIELD_NUMBER: _ClassVar[int]
    RX_DROPS_FIELD_NUMBER: _ClassVar[int]
    TX_DROPS_FIELD_NUMBER: _ClassVar[int]
    RX_BYTES_DELTA_FIELD_NUMBER: _ClassVar[int]
    TX_BYTES_DELTA_FIELD_NUMBER: _ClassVar[int]
    RX_BYTES_COUNTER_FIELD_NUMBER: _ClassVar[int]
    TX_BYTES_COUNTER_FIELD_NUMBER: _ClassVar[int]
    interface: str
    rx_bytes_per_second: float
    tx_bytes_per_second: float
    rx_packets_per_second: float
    tx_packets_per_second: float
    rx_errors: int
    tx_errors: int
    rx_drops: int
    tx_drops: int
    rx_bytes_delta: int
    tx_bytes_delta: int
    rx_bytes_counter: int
    tx_bytes_counter: int
    def __init__(self, interface: _Optional[str] = ..., rx_bytes_per_second: _Optional[float] = ..., tx_bytes_per_second: _Optional[float] = ..., rx_packets_per_second: _Optional[float] = ..., tx_packets_per_second: _Optional[float] = ..., rx_errors: _Optional[int] = ..., tx_errors: _Optional[int] = ..., rx_drops: _Optional[int] = ..., tx_drops: _Optional[int] = ..., rx_bytes_delta: _Optional[int] = ..., tx_bytes_delta: _Optional[int] = ..., rx_bytes_counter: _Optional[int] = ..., tx_bytes_counter: _Optional[int] = ...) -> None: ...

class TemperatureReading(_message.Message):
    __slots__ = ("sensor", "celsius")
    SENSOR_FIELD_NUMBER: _ClassVar[int]
    CELSIUS_FIELD_NUMBER: _ClassVar[int]
    sensor: str
    celsius: float
    def __init__(self, sensor: _Optional[str] = ..., celsius: _Optional[float] = ...) -> None: ...

class DockerInfoBatch(_message.Message):
    __slots__ = ("sequence", "timestamp_unix_ms", "docker_available", "docker_error", "containers", "clock_offset_ms", "clock_offset_known")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    DOCKER_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    DOCKER_ERROR_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_KNOWN_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    timestamp_unix_ms: int
    docker_available: bool
    docker_error: str
    containers: _containers.RepeatedCompositeFieldContainer[DockerContainerInfo]
    clock_offset_ms: int
    clock_offset_known: bool
    def __init__(self, sequence: _Optional[int] = ..., timestamp_unix_ms: _Optional[int] = ..., docker_available: _Optional[bool] = ..., docker_error: _Optional[str] = ..., containers: _Optional[_Iterable[_Union[DockerContainerInfo, _Mapping]]] = ..., clock_offset_ms: _Optional[int] = ..., clock_offset_known: _Optional[bool] = ...) -> None: ...

class DockerContainerInfo(_message.Message):
    __slots__ = ("container_id", "name", "image", "state", "status", "created_unix_ms", "started_unix_ms", "finished_unix_ms", "restart_count", "exit_code", "oom_killed", "labels", "ports", "has_stats", "cpu_percent", "memory_usage_bytes", "memory_limit_bytes", "network_rx_bytes", "network_tx_bytes", "block_read_bytes", "block_write_bytes", "pids")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    OOM_KILLED_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    HAS_STATS_FIELD_NUMBER: _ClassVar[int]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_LIMIT_BYTES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_RX_BYTES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    name: str
    image: str
    state: str
    status: str
    created_unix_ms: int
    started_unix_ms: int
    finished_unix_ms: int
    restart_count: int
    exit_code: int
    oom_killed: bool
    labels: _containers.ScalarMap[str, str]
    ports: _containers.RepeatedScalarFieldContainer[str]
    has_stats: bool
    cpu_percent: float
    memory_usage_bytes: int
    memory_limit_bytes: int
    network_rx_bytes: int
    network_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    pids: int
    def __init__(self, container_id: _Optional[str] = ..., name: _Optional[str] = ..., image: _Optional[str] = ..., state: _Optional[str] = ..., status: _Optional[str] = ..., created_unix_ms: _Optional[int] = ..., started_unix_ms: _Optional[int] = ..., finished_unix_ms: _Optional[int] = ..., restart_count: _Optional[int] = ..., exit_code: _Optional[int] = ..., oom_killed: _Optional[bool] = ..., labels: _Optional[_Mapping[str, str]] = ..., ports: _Optional[_Iterable[str]] = ..., has_stats: _Optional[bool] = ..., cpu_percent: _Optional[float] = ..., memory_usage_bytes: _Optional[int] = ..., memory_limit_bytes: _Optional[int] = ..., network_rx_bytes: _Optional[int] = ..., network_tx_bytes: _Optional[int] = ..., block_read_bytes: _Optional[int] = ..., block_write_bytes: _Optional[int] = ..., pids: _Optional[int] = ...) -> None: ...

class GenericMetricsBatch(_message.Message):
    __slots__ = ("sequence", "metrics", "clock_offset_ms", "clock_offset_known")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_KNOWN_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    metrics: _containers.RepeatedCompositeFieldContainer[GenericMetric]
    clock_offset_ms: int
    clock_offset_known: bool
    def __init__(self, sequence: _Optional[int] = ..., metrics: _Optional[_Iterable[_Union[GenericMetric, _Mapping]]] = ..., clock_offset_ms: _Optional[int] = ..., clock_offset_known: _Optional[bool] = ...) -> None: ...

class GenericMetric(_message.Message):
    __slots__ = ("timestamp_unix_ms", "name", "value", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TIMESTAMP_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    timestamp_unix_ms: int
    name: str
    value: float
    labels: _containers.ScalarMap[str, str]
    def __init__(self, timestamp_unix_ms: _Optional[int] = ..., name: _Optional[str] = ..., value: _Optional[float] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CommandResponse(_message.Message):
    __slots__ = ("command_id", "status", "chunk_index", "stdout", "stderr", "exit_code", "error_message", "output_truncated")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    status: CommandStatus
    chunk_index: int
    stdout: bytes
    stderr: bytes
    exit_code: int
    error_message: str
    output_truncated: bool
    def __init__(self, command_id: _Optional[str] = ..., status: _Optional[_Union[CommandStatus, str]] = ..., chunk_index: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., exit_code: _Optional[int] = ..., error_message: _Optional[str] = ..., output_truncated: _Optional[bool] = ...) -> None: ...

class PtyDataToServer(_message.Message):
    __slots__ = ("session_id", "output", "closed", "exit_code", "error_message")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    output: bytes
    closed: bool
    exit_code: int
    error_message: str
    def __init__(self, session_id: _Optional[str] = ..., output: _Optional[bytes] = ..., closed: _Optional[bool] = ..., exit_code: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("timestamp_unix_ms", "pending_batches", "spooled_bytes", "dropped_batches_total", "clock_offset_ms", "clock_rtt_ms", "clock_offset_known", "rejected_batches_total", "clock_probe_id", "docker_sample_overruns_total", "control_messages_dropped_total")
    TIMESTAMP_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    PENDING_BATCHES_FIELD_NUMBER: _ClassVar[int]
    SPOOLED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_BATCHES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_RTT_MS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_KNOWN_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BATCHES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CLOCK_PROBE_ID_FIELD_NUMBER: _ClassVar[int]
    DOCKER_SAMPLE_OVERRUNS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CONTROL_MESSAGES_DROPPED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    timestamp_unix_ms: int
    pending_batches: int
    spooled_bytes: int
    dropped_batches_total: int
    clock_offset_ms: int
    clock_rtt_ms: int
    clock_offset_known: bool
    rejected_batches_total: int
    clock_probe_id: int
    docker_sample_overruns_total: int
    control_messages_dropped_total: int
    def __init__(self, timestamp_unix_ms: _Optional[int] = ..., pending_batches: _Optional[int] = ..., spooled_bytes: _Optional[int] = ..., dropped_batches_total: _Optional[int] = ..., clock_offset_ms: _Optional[int] = ..., clock_rtt_ms: _Optional[int] = ..., clock_offset_known: _Optional[bool] = ..., rejected_batches_total: _Optional[int] = ..., clock_probe_id: _Optional[int] = ..., docker_sample_overruns_total: _Optional[int] = ..., control_messages_dropped_total: _Optional[int] = ...) -> None: ...

class MessageToAgent(_message.Message):
    __slots__ = ("server_handshake_ack", "agent_config", "command_request", "pty_data", "heartbeat_request", "batch_ack", "batch_acks")
    SERVER_HANDSHAKE_ACK_FIELD_NUMBER: _ClassVar[int]
    AGENT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    COMMAND_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PTY_DATA_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    BATCH_ACK_FIELD_NUMBER: _ClassVar[int]
    BATCH_ACKS_FIELD_NUMBER: _ClassVar[int]
    server_handshake_ack: ServerHandshakeAck
    agent_config: AgentConfig
    command_request: CommandRequest
    pty_data: PtyDataToAgent
    heartbeat_request: HeartbeatRequest
    batch_ack: BatchAck
    batch_acks: BatchAcks
    def __init__(self, server_handshake_ack: _Optional[_Union[ServerHandshakeAck, _Mapping]] = ..., agent_config: _Optional[_Union[AgentConfig, _Mapping]] = ..., command_request: _Optional[_Union[CommandRequest, _Mapping]] = ..., pty_data: _Optional[_Union[PtyDataToAgent, _Mapping]] = ..., heartbeat_request: _Optional[_Union[HeartbeatRequest, _Mapping]] = ..., batch_ack: _Optional[_Union[BatchAck, _Mapping]] = ..., batch_acks: _Optional[_Union[BatchAcks, _Mapping]] = ...) -> None: ...

class ServerHandshakeAck(_message.Message):
    __slots__ = ("authenticated", "vps_id", "initial_config", "server_time_unix_ms", "collector_id", "batch_bundling")
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    VPS_ID_FIELD_NUMBER: _ClassVar[int]
    INITIAL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    COLLECTOR_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_BUNDLING_FIELD_NUMBER: _ClassVar[int]
    authenticated: bool
    vps_id: int
    initial_config: AgentConfig
    server_time_unix_ms: int
    collector_id: str
    batch_bundling: BatchBundling
    def __init__(self, authenticated: _Optional[bool] = ..., vps_id: _Optional[int] = ..., initial_config: _Optional[_Union[AgentConfig, _Mapping]] = ..., server_time_unix_ms: _Optional[int] = ..., collector_id: _Optional[str] = ..., batch_bundling: _Optional[_Union[BatchBundling, _Mapping]] = ...) -> None: ...

class AgentConfig(_message.Message):
    __slots__ = ("snapshot_interval_ms", "docker_interval_ms", "heartbeat_interval_ms", "batch_max_snapshots", "batch_max_delay_ms", "features", "generic_interval_ms")
    SNAPSHOT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    DOCKER_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    BATCH_MAX_SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_MAX_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    GENERIC_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    snapshot_interval_ms: int
    docker_interval_ms: int
    heartbeat_interval_ms: int
    batch_max_snapshots: int
    batch_max_delay_ms: int
    features: FeatureSwitches
    generic_interval_ms: int
    def __init__(self, snapshot_interval_ms: _Optional[int] = ..., docker_interval_ms: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., batch_max_snapshots: _Optional[int] = ..., batch_max_delay_ms: _Optional[int] = ..., features: _Optional[_Union[FeatureSwitches, _Mapping]] = ..., generic_interval_ms: _Optional[int] = ...) -> None: ...

class FeatureSwitches(_message.Message):
    __slots__ = ("docker", "shell", "script", "pty", "files", "docker_control")
    DOCKER_FIELD_NUMBER: _ClassVar[int]
    SHELL_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    PTY_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    DOCKER_CONTROL_FIELD_NUMBER: _ClassVar[int]
    docker: bool
    shell: bool
    script: bool
    pty: bool
    files: bool
    docker_control: bool
    def __init__(self, docker: _Optional[bool] = ..., shell: _Optional[bool] = ..., script: _Optional[bool] = ..., pty: _Optional[bool] = ..., files: _Optional[bool] = ..., docker_control: _Optional[bool] = ...) -> None: ...

class CommandRequest(_message.Message):
    __slots__ = ("command_id", "timeout_ms", "output_limit_bytes", "shell", "script", "ping", "docker_action", "docker_logs", "cancel")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_LIMIT_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHELL_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    DOCKER_ACTION_FIELD_NUMBER: _ClassVar[int]
    DOCKER_LOGS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    timeout_ms: int
    output_limit_bytes: int
    shell: ShellCommand
    script: ScriptCommand
    ping: PingCommand
    docker_action: DockerContainerAction
    docker_logs: DockerLogsRequest
    cancel: CancelCommand
    def __init__(self, command_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ..., output_limit_bytes: _Optional[int] = ..., shell: _Optional[_Union[ShellCommand, _Mapping]] = ..., script: _Optional[_Union[ScriptCommand, _Mapping]] = ..., ping: _Optional[_Union[PingCommand, _Mapping]] = ..., docker_action: _Optional[_Union[DockerContainerAction, _Mapping]] = ..., docker_logs: _Optional[_Union[DockerLogsRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelCommand, _Mapping]] = ...) -> None: ...

class ShellCommand(_message.Message):
    __slots__ = ("command_line", "working_directory", "env")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_LINE_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    command_line: str
    working_directory: str
    env: _containers.ScalarMap[str, str]
    def __init__(self, command_line: _Optional[str] = ..., working_directory: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ScriptCommand(_message.Message):
    __slots__ = ("inline_content", "path", "interpreter", "arguments")
    INLINE_CONTENT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    INTERPRETER_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    inline_content: str
    path: str
    interpreter: str
    arguments: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, inline_content: _Optional[str] = ..., path: _Optional[str] = ..., interpreter: _Optional[str] = ..., arguments: _Optional[_Iterable[str]] = ...) -> None: ...

class PingCommand(_message.Message):
    __slots__ = ("host", "count")
    HOST_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    host: str
    count: int
    def __init__(self, host: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class DockerContainerAction(_message.Message):
    __slots__ = ("container_id", "action", "stop_timeout_s")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_UNSPECIFIED: _ClassVar[DockerContainerAction.Action]
        ACTION_START: _ClassVar[DockerContainerAction.Action]
        ACTION_STOP: _ClassVar[DockerContainerAction.Action]
        ACTION_RESTART: _ClassVar[DockerContainerAction.Action]
        ACTION_KILL: _ClassVar[DockerContainerAction.Action]
        ACTION_PAUSE: _ClassVar[DockerContainerAction.Action]
        ACTION_UNPAUSE: _ClassVar[DockerContainerAction.Action]
    ACTION_UNSPECIFIED: DockerContainerAction.Action
    ACTION_START: DockerContainerAction.Action
    ACTION_STOP: DockerContainerAction.Action
    ACTION_RESTART: DockerContainerAction.Action
    ACTION_KILL: DockerContainerAction.Action
    ACTION_PAUSE: DockerContainerAction.Action
    ACTION_UNPAUSE: DockerContainerAction.Action
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    STOP_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    action: DockerContainerAction.Action
    stop_timeout_s: int
    def __init__(self, container_id: _Optional[str] = ..., action: _Optional[_Union[DockerContainerAction.Action, str]] = ..., stop_timeout_s: _Optional[int] = ...) -> None: ...

class DockerLogsRequest(_message.Message):
    __slots__ = ("container_id", "tail_lines", "since_unix_ms", "timestamps")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    TAIL_LINES_FIELD_NUMBER: _ClassVar[int]
    SINCE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    tail_lines: int
    since_unix_ms: int
    timestamps: bool
    def __init__(self, container_id: _Optional[str] = ..., tail_lines: _Optional[int] = ..., since_unix_ms: _Optional[int] = ..., timestamps: _Optional[bool] = ...) -> None: ...

class CancelCommand(_message.Message):
    __slots__ = ("target_command_id",)
    TARGET_COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    target_command_id: str
    def __init__(self, target_command_id: _Optional[str] = ...) -> None: ...

class PtyDataToAgent(_message.Message):
    __slots__ = ("session_id", "open", "input", "resize", "close")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    RESIZE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    open: PtyOpen
    input: bytes
    resize: PtyResize
    close: bool
    def __init__(self, session_id: _Optional[str] = ..., open: _Optional[_Union[PtyOpen, _Mapping]] = ..., input: _Optional[bytes] = ..., resize: _Optional[_Union[PtyResize, _Mapping]] = ..., close: _Optional[bool] = ...) -> None: ...

class PtyOpen(_message.Message):
    __slots__ = ("rows", "cols", "shell")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    SHELL_FIELD_NUMBER: _ClassVar[int]
    rows: int
    cols: int
    shell: str
    def __init__(self, rows: _Optional[int] = ..., cols: _Optional[int] = ..., shell: _Optional[str] = ...) -> None: ...

class PtyResize(_message.Message):
    __slots__ = ("rows", "cols")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    rows: int
    cols: int
    def __init__(self, rows: _Optional[int] = ..., cols: _Optional[int] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("server_time_unix_ms", "probe_id", "probe_received_unix_ms")
    SERVER_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    PROBE_ID_FIELD_NUMBER: _ClassVar[int]
    PROBE_RECEIVED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    server_time_unix_ms: int
    probe_id: int
    probe_received_unix_ms: int
    def __init__(self, server_time_unix_ms: _Optional[int] = ..., probe_id: _Optional[int] = ..., probe_received_unix_ms: _Optional[int] = ...) -> None: ...

class BatchAck(_message.Message):
    __slots__ = ("sequence", "outcome", "status_code", "detail")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OUTCOME_UNSPECIFIED: _ClassVar[BatchAck.Outcome]
        OUTCOME_STORED: _ClassVar[BatchAck.Outcome]
        OUTCOME_DUPLICATE: _ClassVar[BatchAck.Outcome]
        OUTCOME_REJECTED: _ClassVar[BatchAck.Outcome]
    OUTCOME_UNSPECIFIED: BatchAck.Outcome
    OUTCOME_STORED: BatchAck.Outcome
    OUTCOME_DUPLICATE: BatchAck.Outcome
    OUTCOME_REJECTED: BatchAck.Outcome
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    outcome: BatchAck.Outcome
    status_code: int
    detail: str
    def __init__(self, sequence: _Optional[int] = ..., outcome: _Optional[_Union[BatchAck.Outcome, str]] = ..., status_code: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class BatchAcks(_message.Message):
    __slots__ = ("acks",)
    ACKS_FIELD_NUMBER: _ClassVar[int]
    acks: _containers.RepeatedCompositeFieldContainer[BatchAck]
    def __init__(self, acks: _Optional[_Iterable[_Union[BatchAck, _Mapping]]] = ...) -> None: ...
