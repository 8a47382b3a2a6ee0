"""Server settings an admin changes at run time (``/api/settings``)."""
