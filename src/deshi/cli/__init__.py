"""The `deshi` command line: thin Typer commands that call services and print."""
