"""Users, role grants per department, passwords and API tokens (the pure permission model is
`deshi.permissions`)."""
