"""HTTP routes, one module per concept; each route parses, calls a service, renders."""
