"""Authentication (bearer tokens from login) and role guards."""
