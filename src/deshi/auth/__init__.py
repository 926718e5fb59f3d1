"""Users, roles per department, API tokens, and the one permission function `can`."""
