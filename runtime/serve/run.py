"""Putting a service together and running it: load the rule files and shadows, check the settings,
bind the socket, start the reload watcher and serve with uvicorn until stopped.
"""
from __future__ import annotations

import datetime as dt
import socket
import sys
import threading
from typing import Callable

from runtime.core.errors import Failure
from runtime.serve.app import DEFAULT_MAX_BODY, ServeConfig, Service
from runtime.serve.decisions import DecisionLog
from runtime.serve.live import LoadError, Slot, Watcher

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def stderr_log(msg: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    sys.stderr.write(f"{now} leadrules serve: {msg}\n")
    sys.stderr.flush()


def make_config(files, *, shadows=(), log_path: str | None = None, mask=(), api_key: str | None = None,
                hubspot_secret: str | None = None, public_url: str | None = None,
                max_body: int = DEFAULT_MAX_BODY, id_field: str = "id",
                log: Callable[[str], None] = stderr_log) -> ServeConfig:
    """Load and test every rule file (Failure with exit 2, or 1 when a test fails) and wire the
    shadows: a shadow shadows the live file whose ruleset has its name, else the first file."""
    if not files:
        raise Failure("give at least one rule file")
    slots = []
    for f in files:
        try:
            slots.append(Slot.load(f, id_field=id_field, log=log))
        except LoadError as e:
            raise Failure(f"{e}\n{f}: cannot serve it", e.code) from None
    names = [s.current.name for s in slots]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise Failure(f"two rule files have the ruleset name {dup[0]!r}; /v1/score?ruleset=NAME picks a file "
                      "by its name, so the names must differ")
    shadow_of: dict[str, Slot] = {}
    if shadows and not log_path:
        raise Failure("--shadow needs --log FILE: the shadow's decisions are written to the decision log")
    for f in shadows:
        try:
            sh = Slot.load(f, id_field=id_field, log=log)
        except LoadError as e:
            raise Failure(f"{e}\n{f}: cannot use it as a shadow", e.code) from None
        live = sh.current.name if sh.current.name in names else names[0]
        if live in shadow_of:
            raise Failure(f"two --shadow files shadow the ruleset {live!r}; give one")
        shadow_of[live] = sh
    if api_key is not None and not api_key.strip():
        raise Failure("LEADRULES_API_KEY is set but empty; set it to a long random key, or unset it")
    if hubspot_secret is not None and not hubspot_secret.strip():
        raise Failure("the HubSpot secret is empty")
    known = {"id"} | {f for s in slots for f in s.current.schema.fields}
    masks = frozenset(m.strip() for item in mask for m in item.split(",") if m.strip())
    for m in sorted(masks - known):
        log(f"note: --mask {m}: no rule file declares a field {m!r} (only declared fields are logged)")
    try:
        dlog = DecisionLog(log_path, masks) if log_path else None
    except OSError as e:
        raise Failure(f"{log_path}: cannot open the decision log ({e.strerror})") from None
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return ServeConfig(slots=slots, shadows=shadow_of, api_key=api_key, hubspot_secret=hubspot_secret,
                       public_url=public_url, max_body=max_body, log=dlog, started_at=now)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port; read it from `getsockname()`)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise Failure(f"--host {host}: cannot resolve it ({e.strerror})") from None
    family, _t, _p, _c, addr = infos[0]
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every response waits ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise Failure(f"cannot listen on {host}:{port} ({e.strerror}); is another service using the port? "
                      "Choose one with --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_server(cfg: ServeConfig):
    import uvicorn

    config = uvicorn.Config(Service(cfg).app, log_level="warning", access_log=False, lifespan="off",
                            timeout_keep_alive=30, backlog=2048)
    return uvicorn.Server(config)


def serve(cfg: ServeConfig, sock: socket.socket, *, reload_interval: float = 1.0,
          log: Callable[[str], None] = stderr_log) -> None:
    """Serve until SIGINT/SIGTERM, reloading changed rule files every `reload_interval` seconds."""
    watcher = Watcher(cfg.slots + list(cfg.shadows.values()), reload_interval)
    server = uvicorn_server(cfg)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    for i, s in enumerate(cfg.slots):
        rs = s.current
        log(f"serving {rs.name} version {rs.version} from {rs.path} (rules_sha256 {rs.sha256}, {rs.tests} tests "
            f"pass){' at /v1/score' if i == 0 else f' at /v1/score?ruleset={rs.name}'}")
    for live, s in cfg.shadows.items():
        log(f"shadow of {live}: {s.current.name} from {s.current.path} (rules_sha256 {s.current.sha256})")
    if host not in LOOPBACK and not host.startswith("127.") and not (cfg.api_key or cfg.hubspot_secret):
        log(f"warning: listening on {host} without LEADRULES_API_KEY: anyone who reaches this port can call it")
    log(f"listening on http://{shown}:{port}")
    watcher.start()
    try:
        server.run(sockets=[sock])
    finally:
        watcher.stop()
        if cfg.log is not None:
            cfg.log.close()


class ServerThread:
    """The service in a background thread of this process (tests, benchmarks): `start()` returns once
    it accepts connections; `url` is its base URL; `stop()` shuts it down."""

    def __init__(self, cfg: ServeConfig, host: str = "127.0.0.1", port: int = 0, reload_interval: float = 0.0):
        self.cfg = cfg
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.server = uvicorn_server(cfg)
        self.watcher = Watcher(cfg.slots + list(cfg.shadows.values()), reload_interval)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> "ServerThread":
        import time

        self.watcher.start()
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self.watcher.stop()
        if self.cfg.log is not None:
            self.cfg.log.close()
        self.sock.close()
