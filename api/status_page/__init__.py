"""The public status page and its configuration."""
