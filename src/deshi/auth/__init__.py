"""Users, role grants per department, passwords, API tokens, browser sessions (`sessions`) and
login throttling (`throttle`); the pure permission model is `deshi.permissions`."""
