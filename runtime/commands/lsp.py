"""`leadrules lsp`: the language server for editors, over stdio (docs/editors.md)."""
from __future__ import annotations

import click

from runtime.commands.options import EXIT_ERROR, Failure


@click.command()
@click.option("--stdio", is_flag=True, help="Talk over stdin/stdout (the default and only transport; "
                                           "accepted because editors pass it).")
def lsp(stdio):
    """Run the leadrules language server over stdio (diagnostics, formatting, hover, completion,
    go to definition, outline, and a code lens that runs each test)."""
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        raise Failure("the language server needs pygls and lsprotocol: pip install 'leadrules[lsp]'", EXIT_ERROR)
    from runtime.editor.lsp import main

    main()
