"""The live feed: one LISTEN connection fanned out to WebSocket clients."""
