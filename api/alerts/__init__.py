"""``/api/alerts``: rules, channels, silences, events and deliveries."""
