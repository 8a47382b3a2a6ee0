"""Notification channels: message rendering, payload formats, and sending."""
