"""Request and response bodies of the Tidewatch HTTP API.

They live in ``common`` so the API (which produces them) and the dashboards
(which consume them) share one definition. Every name is a msgspec Struct.
"""

from __future__ import annotations

from common.api_models.accounts import (
    AuditEntry,
    LoginRequest,
    Password,
    RegisterRequest,
    RegistrationAccepted,
    Role,
    SessionOut,
    UserCreate,
    Username,
    UserOut,
    UserUpdate,
)
from common.api_models.health import HealthOut
from common.api_models.history import CpuCoresSeries, CustomMetricSeries, CustomSeries, StatusEventOut
from common.api_models.live import (
    LIVE_CHANNEL,
    LiveAuth,
    LiveClientMessage,
    LiveError,
    LivePing,
    LivePong,
    LiveSampleHeader,
    LiveSubscribe,
    LiveSubscribed,
    LiveWelcome,
)
from common.api_models.metrics import (
    ContainerSeries,
    ContainersSeries,
    DeviceIoSeries,
    DiskIoSeries,
    DiskSeries,
    HostSeries,
    InterfaceSeries,
    MountSeries,
    NetworkSeries,
    Resolution,
    ResolutionChoice,
    SensorSeries,
    SeriesWindow,
    TemperatureSeries,
)
from common.api_models.tokens import TokenCreate, TokenCreated, TokenOut
from common.api_models.vps import (
    LatestMetrics,
    VpsCreate,
    VpsCreated,
    VpsOut,
    VpsTokenRotated,
    VpsUpdate,
)

__all__ = [
    "LIVE_CHANNEL",
    "AuditEntry",
    "ContainerSeries",
    "ContainersSeries",
    "CpuCoresSeries",
    "CustomMetricSeries",
    "CustomSeries",
    "DeviceIoSeries",
    "DiskIoSeries",
    "DiskSeries",
    "HealthOut",
    "HostSeries",
    "InterfaceSeries",
    "LatestMetrics",
    "LiveAuth",
    "LiveClientMessage",
    "LiveError",
    "LivePing",
    "LivePong",
    "LiveSampleHeader",
    "LiveSubscribe",
    "LiveSubscribed",
    "LiveWelcome",
    "LoginRequest",
    "MountSeries",
    "NetworkSeries",
    "Password",
    "RegisterRequest",
    "RegistrationAccepted",
    "Resolution",
    "ResolutionChoice",
    "Role",
    "SensorSeries",
    "SeriesWindow",
    "SessionOut",
    "StatusEventOut",
    "TemperatureSeries",
    "TokenCreate",
    "TokenCreated",
    "TokenOut",
    "UserCreate",
    "UserOut",
    "UserUpdate",
    "Username",
    "VpsCreate",
    "VpsCreated",
    "VpsOut",
    "VpsTokenRotated",
    "VpsUpdate",
]
