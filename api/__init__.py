"""Tidewatch HTTP API: Litestar with msgspec Structs; build it with ``api.app.create_app``."""
