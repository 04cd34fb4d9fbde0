"""Writing scored leads: `score`'s output columns, defined once here for every engine and worker.

JSONL: one object per lead (`id, scores, bands, grade, route, queue, sla, disqualified`, with an
accounts block `account, account_scores, account_bands`, then `reasons, ruleset, ruleset_version,
rules_sha256, as_of`, and with --explain `criteria`). CSV, chosen by the `.csv` suffix: `id,
<dim>_score, <dim>_band …, grade, route, queue, sla, disqualified[, account, account_<dim>_score,
account_<dim>_band …], reasons, ruleset, ruleset_version, rules_sha256, as_of[, criteria]`.
docs/output.md describes every column; runtime/backends/sql.py gives the SQL query the same ones.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import sys
from typing import IO

from runtime.core import kernel
from runtime.core.model import Result
from runtime.core.plan import Plan

PROVENANCE = ("ruleset", "ruleset_version", "rules_sha256", "as_of")

# A lone surrogate (from a JSON "\udc80" escape in the input) cannot be written as UTF-8: JSONL
# writes such a record with \u escapes (the value round-trips exactly), CSV shows it as \udc80.
_SURROGATE = re.compile("[\ud800-\udfff]")
# A spreadsheet runs a cell that starts with = + - @ (or a tab / carriage return before one) as a
# formula: `=HYPERLINK(...)` in a lead's name must stay text. Such a text cell gets a leading ' (the
# OWASP rule), unless it is a plain number like -5 or +1.5, which stays a number.
_FORMULA = re.compile(r"[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def csv_cell(v):
    """A value as a CSV cell that a spreadsheet shows, never runs (see above)."""
    if not isinstance(v, str) or not v:
        return v
    if _SURROGATE.search(v):
        v = v.encode("utf-8", "backslashreplace").decode("utf-8")
    if _FORMULA.match(v) and not _PLAIN_NUMBER.fullmatch(v):
        return "'" + v
    return v


def needs_ascii(r) -> bool:
    """Does this result hold a lone surrogate (see above) in a value that came from the input?"""
    for x in (r.id, getattr(r, "account", None)):
        # (ASCII text holds none: the common case costs one call)
        if x.__class__ is str and not x.isascii() and _SURROGATE.search(x):
            return True
    return False


class Columns:
    """The output columns of a plan: JSON records and CSV rows of `Result`s."""

    def __init__(self, plan: Plan, as_of: dt.date | None, *, explain: bool = False):
        self.plan = plan
        self.explain = explain
        self.dims = [d.name for d in plan.dimensions]
        self.graded = {g.dim for g in plan.grades}
        self.criteria = [c.spec() for c in plan.criteria]
        self.names = [c.name for c in plan.criteria]
        acc = plan.accounts
        self.account_dims = [d.name for d in acc.dimensions] if acc is not None else None
        self.account_graded = {g.dim for g in acc.grades} if acc is not None else set()
        p = plan.provenance
        self.provenance = {"ruleset": p.ruleset, "ruleset_version": p.version, "rules_sha256": p.rules_sha256,
                           "as_of": as_of.isoformat() if as_of is not None else None}

    def reasons(self, r: Result) -> str:
        if r.reasons is not None:
            return r.reasons
        return kernel.reasons(self.names, r.points, r.disqualified)

    def record(self, r: Result) -> dict:
        d = r.record(None)
        d["reasons"] = self.reasons(r)
        d.update(self.provenance)
        if self.explain:
            d["criteria"] = self.criteria_points(r)
        return d

    def criteria_points(self, r: Result) -> dict:
        return {c.key: kernel.round2(p) for c, p, f in zip(self.criteria, r.points, r.fired) if f}

    def header(self) -> list[str]:
        cols = ["id"]
        for d in self.dims:
            cols.append(f"{d}_score")
            if d in self.graded:
                cols.append(f"{d}_band")
        cols += ["grade", "route", "queue", "sla", "disqualified"]
        if self.account_dims is not None:
            cols.append("account")
            for d in self.account_dims:
                cols.append(f"account_{d}_score")
                if d in self.account_graded:
                    cols.append(f"account_{d}_band")
        cols += ["reasons", *PROVENANCE]
        if self.explain:
            cols.append("criteria")
        return cols

    def row(self, r: Result) -> list:
        row = [r.id]
        for d in self.dims:
            s = r.scores.get(d)
            row.append("" if s is None else s)
            if d in self.graded:
                row.append(r.bands.get(d, ""))
        row += [r.grade, r.route or "", r.queue or "", r.sla or "", r.disqualified or ""]
        if self.account_dims is not None:
            row.append(r.account or "")
            scores, bands = r.account_scores or {}, r.account_bands or {}
            for d in self.account_dims:
                s = scores.get(d)
                row.append("" if s is None else s)
                if d in self.account_graded:
                    row.append(bands.get(d, ""))
        row.append(self.reasons(r))
        row += ["" if v is None else v for v in self.provenance.values()]
        if self.explain:
            row.append(json.dumps(self.criteria_points(r), ensure_ascii=False))
        return row


class LineFormatter:
    """`score`'s output lines (JSONL or CSV, no CSV header) into any text buffer: what the writer,
    the worker processes and the DuckDB engine's batches all write."""

    def __init__(self, plan: Plan, fmt: str, explain: bool, as_of: dt.date | None):
        self.cols = Columns(plan, as_of, explain=explain)
        self.fmt = fmt
        self.explain = explain
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
        # JSONL without --explain, written in pieces: the id, the scores and the reasons change from
        # lead to lead; the bands, route, queue, sla and disqualified depend only on the grade (encoded
        # once per distinct tail) and the provenance never changes. Byte for byte what
        # json.JSONEncoder writes for Columns.record.
        from json.encoder import encode_basestring

        self._enc = encode_basestring
        self._score_keys = {d: encode_basestring(d) + ": " for d in self.cols.dims}
        self._prov = ", " + self._dumps(self.cols.provenance)[1:] + "\n"
        self._tails: dict = {}
        self._acc_tails: dict = {}
        self._acc_keys = {d: encode_basestring(d) + ": " for d in (self.cols.account_dims or ())}
        self._acc_parts: dict = {}
        self._bands: dict = {}
        self._out = self._csv = None

    @property
    def provenance_text(self) -> str:
        """The end of every plain JSONL line: `, "ruleset": ..., "as_of": ...}` and the newline."""
        return self._prov

    def _tail(self, r, reasons: bool = True) -> str:
        return self._tail_of(r.grade, r.route, r.queue, r.sla, r.disqualified, tuple(r.bands.items()), reasons)

    def _tail_of(self, grade, route, queue, sla, disqualified, bands: tuple, reasons: bool) -> str:
        """`}, "bands": …, "disqualified": …` (and `, "reasons": `), encoded once per distinct tail."""
        key = (grade, route, queue, sla, disqualified, bands, reasons)
        t = self._tails.get(key)
        if t is None:
            d = self._dumps({"bands": dict(bands), "grade": grade, "route": route, "queue": queue, "sla": sla,
                             "disqualified": disqualified})
            t = "}, " + d[1:-1] + (', "reasons": ' if reasons else "")
            if len(self._tails) < 100_000:
                self._tails[key] = t
        return t

    def _head(self, r) -> str:
        """`{"id": …, "scores": {…` (a score is a float or an int: its repr is what the encoder writes)."""
        sk = self._score_keys
        scores = ", ".join([sk[d] + repr(v) for d, v in r.scores.items()]) if r.scores else ""
        return '{"id": ' + self._enc(r.id) + ', "scores": {' + scores

    def _account_text(self, key, scores: dict, bands) -> str:
        """`, "account": …, "account_scores": {…}, "account_bands": …, "reasons": `: the key, its
        scores (repr, as above) and its bands (encoded once per distinct set). KeyError for a
        dimension the plan does not declare."""
        ak = self._acc_keys
        ascores = ", ".join([ak[d] + (repr(v) if v is not None else "null") for d, v in scores.items()])
        return (', "account": ' + (self._enc(key) if key is not None else "null") + ', "account_scores": {'
                + ascores + "}, " + self._acc_tail(bands))

    def _acc_tail(self, bands) -> str:
        """`"account_bands": {...}, "reasons": ` for these account bands (None: null)."""
        key = tuple(bands.items()) if bands is not None else None
        t = self._acc_tails.get(key)
        if t is None:
            t = '"account_bands": ' + self._dumps(bands) + ', "reasons": '
            if len(self._acc_tails) < 100_000:
                self._acc_tails[key] = t
        return t

    def _json(self, r, d: dict) -> str:
        # a lone surrogate in an input value is written as a \u escape (ASCII JSON), not as invalid UTF-8
        return json.dumps(d, separators=(", ", ": ")) if needs_ascii(r) else self._dumps(d)

    def header(self) -> str:
        return csv_line(self.cols.header())

    # -- JSON lines with an accounts block, in two steps: what the lead alone decides (in the process
    # that scored it) and, once its account is scored, the rest (runtime.backends.accounts.AccountLines)

    def account_piece(self, r) -> tuple | None:
        """The parts of `r`'s JSON line that do not depend on its account, as a row of
        runtime.backends.accounts.group_rows: (None, (the line up to its scores, grade, disqualified,
        bands, the reasons as JSON), account key, flags), plain data that is cheap to hold and send;
        `account_line` completes the inner tuple byte for byte as `write` writes the finished Result.
        None where `write` takes its general path (--explain, CSV, an id that is not a text, a lone
        surrogate): the caller holds the Result."""
        if self.explain or self.fmt != "jsonl" or r.id.__class__ is not str or needs_ascii(r) or (
                r.account is not None and r.account.__class__ is not str):
            return None
        bands = tuple(r.bands.items())
        return (None, (self._head(r), r.grade, r.disqualified,
                       self._bands.setdefault(bands, bands) if len(self._bands) < 10_000 else bands,
                       self._enc(self.cols.reasons(r))), r.account, r.flags)

    def account_line(self, piece: tuple, key, acct, route: tuple) -> str:
        """The JSON line of an `account_piece` (its inner tuple) whose lead's account is `key`, scored
        `acct` (runtime.backends.accounts.AccountScore: its scores are the plan's account dimensions),
        routed `route` (route, queue, sla, line)."""
        head, grade, disq, bands, reasons = piece
        mid = self._tail_of(grade, route[0], route[1], route[2], disq, bands, False)
        # the account's part: the same for each of its leads (remembered for the last 50,000 accounts)
        hit = self._acc_parts.get(key)
        if hit is not None and hit[0] is acct:
            part = hit[1]
        else:
            part = self._account_text(key, acct.scores, acct.bands)
            if key is not None:
                if len(self._acc_parts) >= 50_000:
                    self._acc_parts.clear()
                self._acc_parts[key] = (acct, part)
        return head + mid + part + reasons + self._prov

    def write(self, out, r, day: int | None = None) -> None:
        """`day` (an ordinal): this lead was scored as of its own date (`--as-of-field`): its `as_of`."""
        if day is not None:
            cols = self.cols
            saved = cols.provenance
            cols.provenance = dict(saved, as_of=dt.date.fromordinal(day).isoformat())
            try:
                if self.fmt == "jsonl":
                    out.write(self._json(r, cols.record(r)) + "\n")
                else:
                    if out is not self._out:
                        self._out, self._csv = out, csv.writer(out)
                    self._csv.writerow([csv_cell(c) for c in cols.row(r)])
            finally:
                cols.provenance = saved
            return
        if self.fmt == "jsonl":
            acc = r.account_scores
            if self.explain or r.id.__class__ is not str or needs_ascii(r) or (
                    acc is not None and (r.account is not None and r.account.__class__ is not str)):
                out.write(self._json(r, self.cols.record(r)))
                out.write("\n")
                return
            if acc is None:
                out.write(self._head(r) + self._tail(r) + self._enc(self.cols.reasons(r)) + self._prov)
                return
            # with an accounts block: the account's columns between the lead's and the reasons
            try:
                part = self._account_text(r.account, acc, r.account_bands)
            except KeyError:  # a dimension the plan does not declare: the encoder says how it looks
                out.write(self._json(r, self.cols.record(r)))
                out.write("\n")
                return
            out.write(self._head(r) + self._tail(r, False) + part + self._enc(self.cols.reasons(r)) + self._prov)
            return
        if out is not self._out:  # one csv writer per output buffer
            self._out, self._csv = out, csv.writer(out)
        self._csv.writerow([csv_cell(c) for c in self.cols.row(r)])


def csv_line(row) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(row)
    return buf.getvalue()


class ScoredWriter:
    """`score`'s output file (or stdout): the CSV header, then one line per `Result` of `engine`
    (its `plan` gives the columns) scored as of `as_of`."""

    def __init__(self, engine, path: str | None, *, explain: bool = False, as_of: dt.date | None = None,
                 as_of_column: bool = False):
        """`as_of_column`: leads are scored each as of its own date (calibrate --scores-out), given
        to `write`; their `as_of` says it (the column is always there)."""
        self.path = path
        lower = (path or "").lower()
        self.fmt = "csv" if lower.endswith((".csv", ".csv.gz")) else "jsonl"
        # the columns first (the provenance's rules_sha256 is computed here): nothing below may fail or
        # be interrupted between creating the temporary output file and owning it
        self.lines = LineFormatter(engine.plan, self.fmt, explain, as_of)
        if path in (None, "-"):
            self.fh: IO[str] = sys.stdout
            self._own = False
        else:  # whole or absent: a temporary file renamed on close (runtime/io/files.py)
            from runtime.io.files import open_output

            self.fh = open_output(path)
            self._own = True
        if self.fmt == "csv":
            try:
                self.fh.write(self.lines.header())
            except BaseException:  # Ctrl-C, SIGTERM, a full disk: the caller has no writer to discard
                self.discard()
                raise

    def write(self, r: Result, as_of: int | None = None) -> None:
        self.lines.write(self.fh, r, as_of)

    def close(self) -> None:
        if self._own:
            self.fh.close()
        else:
            self.fh.flush()

    def discard(self) -> None:
        """The run failed or was interrupted: leave no half-written output file."""
        if self._own:
            self.fh.discard()


# ---- score --changed-since PREVIOUS -------------------------------------------------------------


def change_key(grade, route, queue, scores: dict, account_scores: dict | None) -> tuple:
    """What `--changed-since` compares: grade, route, queue and every score (the account's too)."""
    return (grade, route or None, queue or None,
            tuple(sorted((k, float(v)) for k, v in scores.items() if v is not None)),
            tuple(sorted((k, float(v)) for k, v in (account_scores or {}).items() if v is not None)))


def result_key(r: Result) -> tuple:
    return change_key(r.grade, r.route, r.queue, r.scores, r.account_scores)


class PreviousError(Exception):
    """The --changed-since file cannot be read as `score`'s output."""


def read_previous(path: str) -> dict[str, tuple]:
    """id -> change_key of every record in a file an earlier `score` wrote (JSONL or CSV, by its
    suffix, .gz too). A later record of the same id wins."""
    lower = path.lower()
    try:
        raw = gzip.open(path, "rb").read() if lower.endswith(".gz") else open(path, "rb").read()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise PreviousError(f"{path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    out: dict[str, tuple] = {}
    if lower.endswith((".csv", ".csv.gz")):
        rows = csv.DictReader(io.StringIO(text, newline=""))
        need = {"id", "grade", "route", "queue"}
        if not need.issubset(rows.fieldnames or ()):
            raise PreviousError(f"{path}: not a file `leadrules score` wrote (its header has no "
                                f"{', '.join(sorted(need - set(rows.fieldnames or ())))})")
        for row in rows:
            scores, acc = {}, {}
            for k, v in row.items():
                if k is None or v in (None, "") or not k.endswith("_score"):
                    continue
                try:
                    x = float(v)
                except ValueError:
                    raise PreviousError(f"{path}: line {rows.line_num}: {k} {v!r} is not a number") from None
                if k.startswith("account_"):
                    acc[k[len("account_"):-len("_score")]] = x
                else:
                    scores[k[:-len("_score")]] = x
            out[row["id"]] = change_key(row["grade"], row["route"], row["queue"], scores,
                                        acc if "account" in row else None)
        return out
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out[str(d["id"])] = change_key(d["grade"], d.get("route"), d.get("queue"), d.get("scores") or {},
                                           d.get("account_scores"))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise PreviousError(f"{path}:{i}: not a record `leadrules score` wrote") from None
    return out
