"""`leadrules serve`: score leads over HTTP as they arrive (runtime/serve/; docs/serve.md)."""
from __future__ import annotations

import os

import click

from runtime.commands.options import Failure


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; 0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port, printed at start).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), default=None,
              help="Append one JSON line per decision here (time, lead id, ruleset, rules_sha256, grade, route).")
@click.option("--mask", multiple=True, metavar="FIELD,...",
              help="Fields whose values the decision log masks, e.g. --mask email,phone (id too, if listed).")
@click.option("--shadow", "shadows", multiple=True, metavar="OTHER.rules",
              help="Also score with this rule file and log its decision beside the live one (never returned). "
                   "It shadows the FILE whose ruleset has its name, else the first. Needs --log.")
@click.option("--hubspot-secret-env", "hubspot_env", default=None, metavar="NAME",
              help="Accept requests signed by HubSpot (v3 signature) with the app secret in environment "
                   "variable NAME.")
@click.option("--public-url", default=None, metavar="URL",
              help="The base URL HubSpot calls, e.g. https://scoring.example.com (signatures cover the URL; "
                   "default: from the request's Host header).")
@click.option("--max-body", type=click.IntRange(min=1), default=1024 * 1024, show_default=True, metavar="BYTES",
              help="Larger request bodies get 413.")
@click.option("--reload-interval", type=click.FloatRange(min=0), default=1.0, show_default=True,
              metavar="SECONDS", help="How often to look for changed rule files (0: never reload).")
@click.option("--id-field", default="id", show_default=True, help="The field that identifies a lead.")
def serve(files, host, port, log_path, mask, shadows, hubspot_env, public_url, max_body, reload_interval, id_field):
    """Serve FILE(s) over HTTP: POST /v1/score, POST /v1/explain, GET /healthz, GET /readyz.

    The first FILE answers /v1/score; another one answers /v1/score?ruleset=NAME (its `ruleset`
    name). A changed file is compiled and its tests run; only then does it replace the live one.
    With LEADRULES_API_KEY set, requests need `Authorization: Bearer <key>`."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise Failure("leadrules serve needs Starlette and uvicorn: pip install 'leadrules[serve]'")
    from runtime.serve.run import bind, make_config, serve as run

    secret = None
    if hubspot_env is not None:
        secret = os.environ.get(hubspot_env)
        if secret is None:
            raise Failure(f"--hubspot-secret-env {hubspot_env}: the environment variable {hubspot_env} is not set")
    cfg = make_config(files, shadows=shadows, log_path=log_path, mask=mask,
                      api_key=os.environ.get("LEADRULES_API_KEY"), hubspot_secret=secret, public_url=public_url,
                      max_body=max_body, id_field=id_field)
    sock = bind(host, port)
    run(cfg, sock, reload_interval=reload_interval)
