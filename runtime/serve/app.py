"""The HTTP application (Starlette): `POST /v1/score`, `POST /v1/explain`, `GET /healthz`, `GET /readyz`.

A request reads its ruleset once (`Slot.current`) and uses only that version. Score records are
`leadrules score`'s JSONL records, built by its writer (runtime.io.writers.ScoredWriter). A bad lead
is a 422 (one lead) or a per-item error (a batch), never a 500. docs/serve.md is the reference.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import sys
import traceback
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.serve.auth import bearer_ok, hubspot_check
from runtime.serve.decisions import DecisionLog
from runtime.serve.live import Slot

DEFAULT_MAX_BODY = 1024 * 1024   # bytes; a batch of 100 leads with their events is well under this
FORMATS = ("json", "flat")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


@dataclass
class ServeConfig:
    slots: list[Slot]                                   # the first is the default ruleset
    shadows: dict[str, Slot] = field(default_factory=dict)  # live ruleset name -> its shadow
    api_key: str | None = None
    hubspot_secret: str | None = None
    public_url: str | None = None                       # the base URL HubSpot calls (signatures)
    max_body: int = DEFAULT_MAX_BODY
    log: DecisionLog | None = None
    started_at: str = ""


class HttpError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict | None = None, **extra):
        super().__init__(message)
        self.status, self.headers = status, headers
        self.body = {"error": error, "message": message, **extra}


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(_dumps(data), status_code=status, media_type="application/json", headers=headers)


# ---- records ------------------------------------------------------------------------------------


def score_records(engine, results, as_of: dt.date | None = None) -> list[dict]:
    """`leadrules score`'s JSONL records for these Results, written by score's own formatter."""
    from runtime.io.writers import LineFormatter

    lines = LineFormatter(engine.plan, "jsonl", False, as_of)
    buf = io.StringIO()
    for r in results:
        lines.write(buf, r)
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def add_provenance(rec: dict, rs, as_of: dt.date) -> dict:
    """Which rules and which day gave this record. setdefault: once the writer's records carry these
    keys themselves (provenance in runtime/io/writers.py), theirs are kept and this does nothing."""
    rec.setdefault("ruleset", rs.name)
    rec.setdefault("ruleset_version", rs.version)
    rec.setdefault("rules_sha256", rs.sha256)
    rec.setdefault("as_of", as_of.isoformat())
    return rec


def flat_record(rec: dict, engine) -> dict:
    """One level of keys for CRM response mappings: `score`'s CSV columns (`<dim>_score`,
    `<dim>_band`, ..., every one present, null when missing), then the other keys; a list becomes
    `; `-joined text and any other object `<key>_<sub>` keys."""
    from runtime.backends.accounts import account_model

    out = {"id": rec.get("id")}
    graded = {g[0] for g in engine.grade_blocks}
    scores, bands = rec.get("scores") or {}, rec.get("bands") or {}
    for d in (x[0] for x in engine.dims):
        out[f"{d}_score"] = scores.get(d)
        if d in graded:
            out[f"{d}_band"] = bands.get(d)
    model = account_model(engine)
    skip = {"id", "scores", "bands", "account_scores", "account_bands"}
    for k, v in rec.items():
        if k in skip:
            continue
        if k == "account" and model is not None:
            out["account"] = v
            ag = {g[0] for g in model.grade_blocks}
            ascores, abands = rec.get("account_scores") or {}, rec.get("account_bands") or {}
            for d in (x[0] for x in model.dims):
                out[f"account_{d}_score"] = ascores.get(d)
                if d in ag:
                    out[f"account_{d}_band"] = abands.get(d)
        elif isinstance(v, dict):
            for kk, vv in v.items():
                out[f"{k}_{kk}"] = vv
        elif isinstance(v, list):
            out[k] = "; ".join(str(x) for x in v)
        else:
            out[k] = v
    return out


# ---- the application ----------------------------------------------------------------------------


class Service:
    def __init__(self, cfg: ServeConfig):
        self.cfg = cfg
        self.app = Starlette(routes=[
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/v1/score", self.score, methods=["POST"]),
            Route("/v1/explain", self.explain, methods=["POST"]),
        ])

    # -- probes (no key needed: load balancers and orchestrators call them) --

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        slots = self.cfg.slots
        default = slots[0].current
        body = {"status": "ready", **default.info(), "reload_error": slots[0].error,
                "rulesets": [{**s.current.info(), "default": i == 0, "reload_error": s.error}
                             for i, s in enumerate(slots)]}
        if self.cfg.shadows:
            body["shadows"] = [{**s.current.info(), "shadows": live, "reload_error": s.error}
                               for live, s in self.cfg.shadows.items()]
        body["started_at"] = self.cfg.started_at
        return json_response(body)

    # -- scoring --

    async def score(self, request: Request) -> Response:
        return await self._guard(request, self._score)

    async def explain(self, request: Request) -> Response:
        return await self._guard(request, self._explain)

    async def _guard(self, request: Request, handler) -> Response:
        try:
            return await handler(request)
        except HttpError as e:
            return json_response(e.body, e.status, e.headers)
        except Exception as e:  # a bug in leadrules: say so, keep serving
            sys.stderr.write("leadrules serve: internal error\n" + traceback.format_exc())
            return json_response({"error": "internal", "message": f"internal error: {type(e).__name__}: {e} "
                                  "(a bug in leadrules, not in your request)"}, 500)

    async def _prepare(self, request: Request):
        """Authorize, read the body (size-limited), pick the ruleset, parse JSON."""
        cfg = self.cfg
        authed = not (cfg.api_key or cfg.hubspot_secret)
        if cfg.api_key and bearer_ok(request.headers.get("authorization"), cfg.api_key):
            authed = True
        signed = cfg.hubspot_secret is not None and "x-hubspot-signature-v3" in request.headers
        if not authed and not signed:
            what = "Authorization: Bearer <key>" if cfg.api_key else "a HubSpot v3 signature"
            if cfg.api_key and cfg.hubspot_secret:
                what += " or a HubSpot v3 signature"
            raise HttpError(401, "unauthorized", f"this service needs {what}",
                            {"WWW-Authenticate": "Bearer"} if cfg.api_key else None)
        body = await self._body(request)
        if not authed:
            why = hubspot_check(cfg.hubspot_secret, request.method, self._signed_uri(request), body,
                                request.headers.get("x-hubspot-signature-v3"),
                                request.headers.get("x-hubspot-request-timestamp"))
            if why is not None:
                raise HttpError(401, "unauthorized", why)
        q = request.query_params
        fmt = q.get("format", "json")
        if fmt not in FORMATS:
            raise HttpError(422, "bad_request", f"format={fmt!r}: use json or flat")
        slot = self._slot(q.get("ruleset"))
        rs = slot.current  # this request's version, whatever a reload does meanwhile
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as e:
            where = f": {e.msg} at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
            raise HttpError(422, "bad_request", f"the body is not valid JSON{where}") from None
        return payload, rs, fmt

    async def _body(self, request: Request) -> bytes:
        limit = self.cfg.max_body
        cl = request.headers.get("content-length")
        if cl is not None and cl.strip().isdigit() and int(cl) > limit:
            raise HttpError(413, "too_large", f"the body is {int(cl):,} bytes; the limit is {limit:,} "
                            "(send fewer leads per request, or start the service with a larger --max-body)")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, "too_large", f"the body is over the limit of {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _signed_uri(self, request: Request) -> str:
        raw = request.scope.get("raw_path") or request.url.path.encode("utf-8")
        path = raw.decode("latin-1")
        qs = request.scope.get("query_string", b"").decode("latin-1")
        base = self.cfg.public_url.rstrip("/") if self.cfg.public_url else \
            f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        return base + path + (f"?{qs}" if qs else "")

    def _slot(self, name: str | None) -> Slot:
        slots = self.cfg.slots
        if name is None:
            return slots[0]
        for s in slots:
            if s.current.name == name:
                return s
        names = ", ".join(s.current.name for s in slots)
        raise HttpError(404, "unknown_ruleset", f"no ruleset named {name!r}; this service has: {names}")

    @staticmethod
    def _as_of(value) -> dt.date:
        if value is None:
            return dt.datetime.now(dt.timezone.utc).date()
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise HttpError(422, "bad_request", f"as_of: {json.dumps(value)} is not a date; write it as YYYY-MM-DD")

    def _leads_of(self, payload, rs, request: Request):
        """(objects, as_of, batch?) from one lead, {"lead": {...}} or {"leads": [...]}."""
        fields = rs.schema.fields
        if not isinstance(payload, dict):
            raise HttpError(422, "bad_request", 'the body must be a JSON object: one lead (events embedded), '
                            'or {"leads": [...]}')
        as_of = request.query_params.get("as_of")
        meta = "as_of" in payload and "as_of" not in fields
        if meta and as_of is None:
            as_of = payload["as_of"]
        if "leads" in payload and "leads" not in fields:
            objs = payload["leads"]
            if not isinstance(objs, list):
                raise HttpError(422, "bad_request", '"leads" must be a list of lead objects')
            return objs, self._as_of(as_of), True
        if "lead" in payload and "lead" not in fields:
            if not isinstance(payload["lead"], dict):
                raise HttpError(422, "bad_request", '"lead" must be a lead object')
            return [payload["lead"]], self._as_of(as_of), False
        obj = payload
        if meta:
            obj = {k: v for k, v in payload.items() if k != "as_of"}
        return [obj], self._as_of(as_of), False

    @staticmethod
    def _build(objs: list, schema):
        """([(index, obj, Lead)], {index: reason}) for the request's lead objects."""
        from runtime.io.readers import BadRowsError, lead_from_object

        good, bad = [], {}
        for i, o in enumerate(objs):
            try:
                good.append((i, o, lead_from_object(o, schema, line=i + 1, source="request")))
            except BadRowsError as e:
                bad[i] = e.bad_rows[0].reason
        return good, bad

    @staticmethod
    def _results(rs, leads: list, as_of: dt.date) -> list:
        """Results in order; the leads of one request form the accounts (a lone lead: its own)."""
        from runtime.backends.accounts import score_leads
        from runtime.backends.closure import date_ordinal

        return [r for _lead, r in score_leads(rs.engine, leads, date_ordinal(as_of.isoformat()))]

    async def _score(self, request: Request) -> Response:
        payload, rs, fmt = await self._prepare(request)
        objs, as_of, batch = self._leads_of(payload, rs, request)
        good, bad = self._build(objs, rs.schema)
        results = self._results(rs, [lead for _i, _o, lead in good], as_of)
        records = [add_provenance(rec, rs, as_of) for rec in score_records(rs.engine, results, as_of)]
        if fmt == "flat":
            records = [flat_record(rec, rs.engine) for rec in records]
        by_index = {i: rec for (i, _o, _l), rec in zip(good, records)}
        self._log(request, rs, objs, good, bad, records, as_of)
        headers = {"X-Leadrules-Ruleset": rs.name, "X-Leadrules-Rules-Sha256": rs.sha256}
        if not batch:
            if bad:
                raise HttpError(422, "bad_lead", bad[0], headers, id=self._id_of(objs[0], rs), reason=bad[0])
            return json_response(by_index[0], headers=headers)
        items = []
        for i, o in enumerate(objs):
            if i in by_index:
                items.append(by_index[i])
            else:
                items.append({"index": i, "id": self._id_of(o, rs), "status": 422, "error": "bad_lead",
                              "reason": bad[i]})
        return json_response({"ruleset": rs.name, "rules_sha256": rs.sha256, "as_of": as_of.isoformat(),
                              "scored": len(good), "rejected": len(bad), "results": items}, headers=headers)

    async def _explain(self, request: Request) -> Response:
        from runtime.analysis import explain as ex
        from runtime.backends.closure import date_ordinal

        payload, rs, _fmt = await self._prepare(request)
        objs, as_of, batch = self._leads_of(payload, rs, request)
        if batch:
            raise HttpError(422, "bad_request", '/v1/explain takes one lead, not {"leads": [...]}')
        good, bad = self._build(objs, rs.schema)
        headers = {"X-Leadrules-Ruleset": rs.name, "X-Leadrules-Rules-Sha256": rs.sha256}
        if bad:
            raise HttpError(422, "bad_lead", bad[0], headers, id=self._id_of(objs[0], rs), reason=bad[0])
        d = ex.as_dict(rs.engine, good[0][2], date_ordinal(as_of.isoformat()))
        return Response(ex.as_json(d), media_type="application/json", headers=headers)

    @staticmethod
    def _id_of(obj, rs):
        return obj.get(rs.schema.id_field) if isinstance(obj, dict) else None

    # -- decision log --

    def _log(self, request, rs, objs, good, bad, records, as_of) -> None:
        log = self.cfg.log
        if log is None:
            return
        shadow = self._shadow(rs, objs, as_of)
        entries = []
        recs = {i: rec for (i, _o, _l), rec in zip(good, records)}
        for i, o in enumerate(objs):
            e = {"ruleset": rs.name, "rules_sha256": rs.sha256, "as_of": as_of.isoformat()}
            if i in recs:
                rec = recs[i]
                e["id"] = log.lead_id(rec.get("id"))
                for k in ("grade", "route", "queue", "disqualified"):
                    e[k] = rec.get(k)
                e["scores"] = _scores_of(rec)
            else:
                e["id"] = log.lead_id(self._id_of(o, rs))
                e["error"] = bad.get(i)
            if isinstance(o, dict):
                e["lead"] = log.lead_fields(o, rs.schema)
                evs = o.get("events")
                e["events"] = len(evs) if isinstance(evs, list) else 0
            if shadow is not None:
                e["shadow"] = shadow[i]
            entries.append(e)
        log.write(entries)

    def _shadow(self, rs, objs, as_of) -> list[dict] | None:
        """The shadow ruleset's decision for every object (logged, never returned)."""
        slot = self.cfg.shadows.get(rs.name)
        if slot is None:
            return None
        sh = slot.current
        out: list[dict] = [{} for _ in objs]
        try:
            good, bad = self._build(objs, sh.schema)
            results = self._results(sh, [lead for _i, _o, lead in good], as_of)
            recs = score_records(sh.engine, results, as_of)
        except Exception as e:  # the shadow never breaks the live answer
            return [{"ruleset": sh.name, "rules_sha256": sh.sha256, "error": f"{type(e).__name__}: {e}"}
                    for _ in objs]
        for (i, _o, _l), rec in zip(good, recs):
            out[i] = {"ruleset": sh.name, "rules_sha256": sh.sha256, "grade": rec.get("grade"),
                      "route": rec.get("route"), "queue": rec.get("queue"),
                      "disqualified": rec.get("disqualified"), "scores": _scores_of(rec)}
        for i, reason in bad.items():
            out[i] = {"ruleset": sh.name, "rules_sha256": sh.sha256, "error": reason}
        return out


def _scores_of(rec: dict) -> dict:
    if "scores" in rec:
        return rec["scores"]
    return {k[:-len("_score")]: v for k, v in rec.items() if k.endswith("_score") and not k.startswith("account_")}
