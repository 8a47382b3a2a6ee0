"""Tidewatch dashboards: a Dash multi-page app that reads everything through the API."""
