"""Billing facts, traffic quotas and monthly traffic per VPS and fleet-wide."""
