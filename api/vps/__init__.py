"""VPS records: create (with an agent token), list, change, delete, rotate."""
