"""`tether engines`: the sampling engines and each one's options, as the engines declare them.

The options are those `-o KEY=VALUE` takes in `tether sample` (and an experiment file's ``[models.*]`` keys):
their names, types, defaults and meanings come from each engine's constructor (`tether.engines.option_listing`),
so this listing cannot drift from what is checked. Listing an engine imports its module, not its libraries.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tether.cli.shell import app, emit_json, engine_registry_name, friendly_errors, stdout, styled


@app.command("engines")
def engines_cmd(
    engine: Annotated[str | None, typer.Argument(metavar="ENGINE", help="One engine (transformers, vllm, openai): its options only [default: every engine].", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the engines and their options as one JSON object.")] = False,
) -> None:
    """The sampling engines and their options: what `tether sample -o KEY=VALUE` (and an experiment file's [models.*]) takes."""
    from tether.engines import ENGINES, engine_name, engine_summary, option_listing

    with friendly_errors():
        names = [engine_registry_name(engine, engine_name)] if engine else list(ENGINES)
        listing = {name: (engine_summary(name), option_listing(name)) for name in names}
    if as_json:
        emit_json({"engines": {name: {"summary": summary, "options": [o.to_dict() for o in options]}
                               for name, (summary, options) in listing.items()}})
        return
    for name, (summary, options) in listing.items():
        stdout.print(styled(name, "bold", f": {summary}"), highlight=False)
        table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2, 0, 2))
        for column in ("-o KEY=VALUE", "type", "default", "meaning"):
            table.add_column(column, overflow="fold")
        for o in options:
            default = "required" if o.required else "-" if o.default is None else str(o.default)
            meaning = o.meaning + (f" [env: {o.env}]" if o.env else "")
            table.add_row(f"{o.name}=", o.type, default, meaning)
        stdout.print(table)
        stdout.print()
    stdout.print("e.g. tether sample STORE --engine vllm -o dtype=bfloat16 -o max_model_len=8192 ...", highlight=False)
