"""``tidewatch-alerts``: evaluates alert rules and delivers notifications."""
