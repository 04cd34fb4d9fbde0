"""`leadrules serve`: the real service (uvicorn on a free loopback port, in a thread or as the CLI in a
subprocess), driven over HTTP with httpx: every endpoint, 401/404/413/422, hot reload (good, broken,
failing tests, under concurrent load), the decision log with masks, shadows and HubSpot signatures.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from runtime.serve.run import ServerThread, make_config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"
SAMPLE = ROOT / "rulesets" / "samples" / "leads.jsonl"
AS_OF = "2026-11-01"
ACME_TEXT = ACME.read_text(encoding="utf-8")
# a version with one more criterion, which no test of the file touches: company "Zeta" gets +7
BONUS_TEXT = ACME_TEXT.replace('ruleset "acme-b2b" version 4', 'ruleset "acme-b2b" version 5').replace(
    '  "Personal email"    -20  when domain(email) in personal_domains\n',
    '  "Personal email"    -20  when domain(email) in personal_domains\n  "Zeta"  +7  when company = "Zeta"\n')
assert BONUS_TEXT != ACME_TEXT and "version 5" in BONUS_TEXT and '"Zeta"' in BONUS_TEXT
ZETA = {"id": "z1", "email": "kim@zeta.io", "title": "Manager", "company": "Zeta", "company_size": 50}


@functools.lru_cache(maxsize=None)
def sha(text: str) -> str:
    """The rules' hash as every record carries it (docs/output.md: layout and comments do not count)."""
    from runtime.core.plan import rules_sha256

    return rules_sha256(text)


def sample_leads(n: int) -> list[dict]:
    with SAMPLE.open(encoding="utf-8") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


class Running:
    def __init__(self, files, reload_interval=0.0, **kw):
        self.logs: list[str] = []
        cfg = make_config([str(f) for f in files], log=self.logs.append, **kw)
        self.st = ServerThread(cfg, reload_interval=reload_interval).start()
        self.url = self.st.url
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def post(self, path, body=None, **kw):
        if body is not None and "content" not in kw:
            kw["content"] = json.dumps(body)
        return self.client.post(path, **kw)

    def close(self):
        self.client.close()
        self.st.stop()


@pytest.fixture(scope="module")
def acme():
    r = Running([ACME])
    yield r
    r.close()


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out")


# ---- endpoints ----------------------------------------------------------------------------------


def test_healthz_and_readyz(acme):
    assert acme.client.get("/healthz").json() == {"status": "ok"}
    r = acme.client.get("/readyz")
    assert r.status_code == 200
    d = r.json()
    assert d["name"] == d["ruleset"] == "acme-b2b" and d["version"] == d["ruleset_version"] == 4
    assert d["rules_sha256"] == sha(ACME_TEXT)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["loaded_at"])
    assert d["reload_error"] is None and d["rulesets"][0]["default"] is True


def test_batch_answers_the_records_of_leadrules_score(acme, tmp_path):
    leads = sample_leads(150)
    path = tmp_path / "leads.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in leads), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "cli", "score", str(ACME), "--leads", str(path), "--as-of", AS_OF],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    want = [json.loads(x) for x in out.stdout.splitlines()]
    r = acme.post("/v1/score", {"leads": leads, "as_of": AS_OF})
    assert r.status_code == 200
    d = r.json()
    assert d["scored"] == 150 and d["rejected"] == 0 and d["as_of"] == AS_OF
    got = d["results"]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert {k: g[k] for k in w} == w  # every key `score` writes, with its value
        assert g["rules_sha256"] == sha(ACME_TEXT) and g["ruleset"] == "acme-b2b" and g["as_of"] == AS_OF
    assert r.headers["x-leadrules-rules-sha256"] == sha(ACME_TEXT)


def test_one_lead_is_its_own_account(acme):
    lead = sample_leads(1)[0]
    r = acme.post(f"/v1/score?as_of={AS_OF}", lead)
    assert r.status_code == 200
    d = r.json()
    assert d["id"] == lead["id"] and d["account"] == "maplebank.com"
    assert d["grade"] == "B3" and d["scores"] == {"profile": 60.0, "engagement": 42.92}
    # the same through the wrapper form and with as_of in the body
    assert acme.post("/v1/score", {"lead": lead, "as_of": AS_OF}).json() == d
    assert acme.post("/v1/score", {**lead, "as_of": AS_OF}).json() == d


def test_flat_format_for_response_mappings(acme):
    r = acme.post(f"/v1/score?as_of={AS_OF}&format=flat", sample_leads(1)[0])
    d = r.json()
    assert all(not isinstance(v, (dict, list)) for v in d.values())
    assert d["profile_score"] == 60.0 and d["profile_band"] == "B" and d["engagement_band"] == "3"
    assert d["grade"] == "B3" and d["route"] == "nurture" and d["account_buying_band"] == "warm"
    # a disqualified lead still has every key, null when it has no score
    r = acme.post(f"/v1/score?as_of={AS_OF}&format=flat", {"id": "m", "last_name": "Mouse", "email": "m@x.com"})
    d = r.json()
    assert d["grade"] == "disqualified" and d["profile_score"] is None and "engagement_band" in d


def test_explain_is_the_json_of_leadrules_explain(acme):
    lead = {"id": "e1", "email": "ana@bigco.com", "title": "VP Marketing", "company_size": 5000,
            "industry": "Software", "events": [{"type": "form_submit", "form": "demo-request", "at": "2026-10-30"}]}
    r = acme.post(f"/v1/explain?as_of={AS_OF}", lead)
    assert r.status_code == 200
    out = subprocess.run([sys.executable, "-m", "cli", "explain", str(ACME), "--lead", json.dumps(lead), "--as-of",
                          AS_OF, "--format", "json"], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert r.json() == json.loads(out.stdout)
    assert acme.post("/v1/explain", {"leads": [lead]}).status_code == 422


@pytest.mark.parametrize("body, status, words", [
    ({"id": "x", "company_size": "lots"}, 422, '"lots" is not a number'),
    # an undeclared event type is ignored (docs/input.md); an unreadable time is not
    ({"id": "x", "events": [{"type": "email_open", "at": "yesterday"}]}, 422, "is not a date or timestamp"),
    ([1, 2], 422, "must be a JSON object"),
    ({"leads": "nope"}, 422, "must be a list"),
    ({"lead": [1]}, 422, "must be a lead object"),
    ({"id": "x", "as_of": "yesterday"}, 422, "not a date"),
])
def test_bad_requests_are_422_never_500(acme, body, status, words):
    r = acme.post("/v1/score", body)
    assert r.status_code == status, r.text
    assert words in r.json()["message"]


def test_malformed_json_is_422(acme):
    r = acme.post("/v1/score", content=b'{"id": "x",')
    assert r.status_code == 422 and "not valid JSON" in r.json()["message"]
    r = acme.post("/v1/score", content=b"\xff\xfe")
    assert r.status_code == 422


def test_batch_reports_bad_leads_per_item(acme):
    leads = sample_leads(3)
    leads.insert(1, {"id": "bad", "created_at": "last week"})
    r = acme.post(f"/v1/score?as_of={AS_OF}", {"leads": leads})
    assert r.status_code == 200
    d = r.json()
    assert d["scored"] == 3 and d["rejected"] == 1
    item = d["results"][1]
    assert item["index"] == 1 and item["id"] == "bad" and item["status"] == 422 and "not a date" in item["reason"]
    assert [x["id"] for x in d["results"]] == ["L00001", "bad", "L00002", "L00003"]


def test_unknown_format_and_method(acme):
    assert acme.post("/v1/score?format=xml", {"id": "x"}).status_code == 422
    assert acme.client.get("/v1/score").status_code == 405


# ---- several files ------------------------------------------------------------------------------


def test_several_files_by_ruleset_name(tmp_path):
    other = tmp_path / "other.rules"
    other.write_text('ruleset "tiny" version 1\nfields {\n  title: text\n}\n\nscore fit \"Fit\" max 10 {\n'
                     '  "VP"  +10  when title contains "VP"\n}\n', encoding="utf-8")
    r = Running([ACME, other])
    try:
        assert r.post("/v1/score?ruleset=tiny", {"id": "a", "title": "VP"}).json()["scores"] == {"fit": 10.0}
        assert r.post("/v1/score", {"id": "a", "title": "VP"}).json()["ruleset"] == "acme-b2b"
        bad = r.post("/v1/score?ruleset=nope", {"id": "a"})
        assert bad.status_code == 404 and "tiny" in bad.json()["message"]
        names = [x["name"] for x in r.client.get("/readyz").json()["rulesets"]]
        assert names == ["acme-b2b", "tiny"]
    finally:
        r.close()


# ---- limits and keys ----------------------------------------------------------------------------


def test_body_over_the_limit_is_413():
    r = Running([ACME], max_body=4000)
    try:
        small = r.post("/v1/score", {"id": "a"})
        assert small.status_code == 200
        big = r.post("/v1/score", {"leads": sample_leads(20)})
        assert big.status_code == 413 and "limit" in big.json()["message"]
        body = json.dumps({"leads": sample_leads(20)}).encode()
        chunked = r.client.post("/v1/score", content=(body[i:i + 1000] for i in range(0, len(body), 1000)))
        assert chunked.status_code == 413  # no Content-Length: counted as it arrives
    finally:
        r.close()


def test_api_key_is_required_when_set():
    r = Running([ACME], api_key="s3cret-key")
    try:
        lead = {"id": "a", "title": "VP"}
        assert r.post("/v1/score", lead).status_code == 401
        assert r.post("/v1/score", lead, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert r.post("/v1/score", lead, headers={"Authorization": "Basic s3cret-key"}).status_code == 401
        assert r.post("/v1/explain", lead).status_code == 401
        ok = r.post("/v1/score", lead, headers={"Authorization": "Bearer s3cret-key"})
        assert ok.status_code == 200 and ok.json()["id"] == "a"
        assert r.client.get("/healthz").status_code == 200  # probes need no key
    finally:
        r.close()


def _hubspot_sign(secret: str, method: str, uri: str, body: bytes, ts: str) -> str:
    # written from HubSpot's documentation, independently of runtime/serve/auth.py
    mac = hmac.new(secret.encode(), method.encode() + uri.encode() + body + ts.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_hubspot_v3_signatures():
    secret = "hs-app-secret"
    r = Running([ACME], hubspot_secret=secret)
    try:
        body = json.dumps({"id": "h1", "email": "li@shopco.com", "title": "VP Sales"}).encode()
        uri = f"{r.url}/v1/score?format=flat"
        now = str(int(time.time() * 1000))

        def call(sig, ts):
            return r.client.post("/v1/score?format=flat", content=body, headers={
                "X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts, "Content-Type": "application/json"})

        ok = call(_hubspot_sign(secret, "POST", uri, body, now), now)
        assert ok.status_code == 200 and ok.json()["id"] == "h1"
        wrong = call(_hubspot_sign("another-secret", "POST", uri, body, now), now)
        assert wrong.status_code == 401 and "does not match" in wrong.json()["message"]
        old = str(int(time.time() * 1000) - 6 * 60 * 1000)
        expired = call(_hubspot_sign(secret, "POST", uri, body, old), old)
        assert expired.status_code == 401 and "5 minutes" in expired.json()["message"]
        tampered = r.client.post("/v1/score?format=flat", content=body.replace(b"VP", b"CEO"), headers={
            "X-HubSpot-Signature-v3": _hubspot_sign(secret, "POST", uri, body, now),
            "X-HubSpot-Request-Timestamp": now})
        assert tampered.status_code == 401
        assert r.post("/v1/score", {"id": "x"}).status_code == 401  # unsigned
    finally:
        r.close()


# ---- hot reload ---------------------------------------------------------------------------------


@pytest.fixture
def live_file(tmp_path):
    f = tmp_path / "acme.rules"
    f.write_text(ACME_TEXT, encoding="utf-8")
    return f


def test_reload_of_a_good_file(live_file):
    r = Running([live_file], reload_interval=0.05)
    try:
        assert r.post(f"/v1/score?as_of={AS_OF}", ZETA).json()["scores"]["profile"] == 15.0
        live_file.write_text(BONUS_TEXT, encoding="utf-8")
        d = wait_for(lambda: (x := r.client.get("/readyz").json())["rules_sha256"] == sha(BONUS_TEXT) and x)
        assert d["version"] == 5 and d["reload_error"] is None
        got = r.post(f"/v1/score?as_of={AS_OF}", ZETA).json()
        assert got["scores"]["profile"] == 22.0 and got["rules_sha256"] == sha(BONUS_TEXT)
        assert any("reloaded" in line for line in r.logs)
    finally:
        r.close()


@pytest.mark.parametrize("breakage, words", [
    (lambda t: t.replace("score profile", "score profile profile"), "does not compile"),
    (lambda t: t.replace("expect grade A3", "expect grade B3"), "tests fail"),
    (lambda t: t.replace("company_size >= 1000", "company_size >= 1001").replace(
        'version 4', 'version 6').replace('"Enterprise"        +25', '"Enterprise"        +24'), "tests fail"),
])
def test_a_broken_file_keeps_the_old_version_serving(live_file, breakage, words):
    r = Running([live_file], reload_interval=0.05)
    try:
        before = r.post(f"/v1/score?as_of={AS_OF}", ZETA).json()
        bad = breakage(ACME_TEXT)
        assert bad != ACME_TEXT
        live_file.write_text(bad, encoding="utf-8")
        d = wait_for(lambda: (x := r.client.get("/readyz").json())["reload_error"] and x)
        assert words in d["reload_error"]["message"]
        assert d["rules_sha256"] == sha(ACME_TEXT) and d["version"] == 4
        after = r.post(f"/v1/score?as_of={AS_OF}", ZETA).json()
        assert after == before
        assert any("reload of" in line and "failed" in line for line in r.logs)
        # fixing the file clears the error and goes live
        live_file.write_text(BONUS_TEXT, encoding="utf-8")
        d = wait_for(lambda: (x := r.client.get("/readyz").json())["rules_sha256"] == sha(BONUS_TEXT) and x)
        assert d["reload_error"] is None
    finally:
        r.close()


def test_concurrent_requests_during_reloads_see_whole_versions(live_file):
    r = Running([live_file], reload_interval=0.01)
    profile_of = {sha(ACME_TEXT): 15.0, sha(BONUS_TEXT): 22.0}
    seen, errors = [], []
    stop = threading.Event()

    def hammer():
        with httpx.Client(base_url=r.url, timeout=10) as c:
            while not stop.is_set():
                try:
                    x = c.post(f"/v1/score?as_of={AS_OF}", content=json.dumps({"leads": [ZETA, ZETA]}))
                    if x.status_code != 200:
                        errors.append(x.text)
                        continue
                    d = x.json()
                    for item in d["results"]:
                        seen.append((item["rules_sha256"], item["scores"]["profile"], d["rules_sha256"]))
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    try:
        for t in threads:
            t.start()
        for text in [BONUS_TEXT, ACME_TEXT, BONUS_TEXT, ACME_TEXT, BONUS_TEXT]:
            live_file.write_text(text, encoding="utf-8")
            wait_for(lambda: r.client.get("/readyz").json()["rules_sha256"] == sha(text))
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
        r.close()
    assert not errors, errors[:3]
    assert {s for s, _p, _b in seen} == set(profile_of)
    for s, p, batch_sha in seen:
        assert profile_of[s] == p and s == batch_sha  # every answer from one whole version


# ---- decision log and shadow --------------------------------------------------------------------


def test_decision_log_masks_fields(tmp_path):
    log = tmp_path / "decisions.jsonl"
    r = Running([ACME], log_path=str(log), mask=("email,phone",))
    try:
        lead = {"id": "d1", "email": "ana.secret@bigco.com", "title": "VP Marketing", "company_size": 5000,
                "first_name": "Ana"}
        assert r.post(f"/v1/score?as_of={AS_OF}", lead).status_code == 200
        assert r.post("/v1/score", {"id": "d2", "email": "x@y.com", "company_size": "many"}).status_code == 422
    finally:
        r.close()
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    a, b = lines
    assert a["id"] == "d1" and a["rules_sha256"] == sha(ACME_TEXT) and a["grade"] and a["route"] == "nurture"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", a["time"])
    assert a["lead"]["email"] == "***@bigco.com" and a["lead"]["first_name"] == "Ana"
    assert b["id"] == "d2" and "not a number" in b["error"]
    assert "ana.secret" not in log.read_text(encoding="utf-8")
    assert any("--mask phone" in line for line in r.logs)


def test_shadow_decisions_are_logged_never_returned(tmp_path):
    log = tmp_path / "decisions.jsonl"
    shadow = tmp_path / "candidate.rules"
    shadow.write_text(BONUS_TEXT, encoding="utf-8")
    r = Running([ACME], shadows=[str(shadow)], log_path=str(log))
    try:
        d = r.post(f"/v1/score?as_of={AS_OF}", ZETA).json()
        assert d["scores"]["profile"] == 15.0 and "shadow" not in d and d["rules_sha256"] == sha(ACME_TEXT)
        batch = r.post(f"/v1/score?as_of={AS_OF}", {"leads": [ZETA, {"id": "q", "title": "CEO"}]}).json()
        assert all("shadow" not in x for x in batch["results"])
        ready = r.client.get("/readyz").json()
        assert ready["shadows"][0]["rules_sha256"] == sha(BONUS_TEXT) and ready["shadows"][0]["shadows"] == "acme-b2b"
    finally:
        r.close()
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert first["scores"]["profile"] == 15.0 and first["rules_sha256"] == sha(ACME_TEXT)
    assert first["shadow"]["scores"]["profile"] == 22.0 and first["shadow"]["rules_sha256"] == sha(BONUS_TEXT)
    assert lines[2]["id"] == "q" and lines[2]["shadow"]["grade"] == lines[2]["grade"]


def test_many_concurrent_connections(acme):
    lead = json.dumps({"id": "c", "title": "VP", "email": "a@b.com"})
    results = []

    def one():
        with httpx.Client(base_url=acme.url, timeout=20) as c:
            results.append(c.post("/v1/score", content=lead).status_code)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 50


# ---- the command --------------------------------------------------------------------------------


def _cli(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, **kw)


def test_cli_serves_on_loopback_until_stopped():
    p = _cli("serve", str(ACME), "--port", "0", env={"LEADRULES_API_KEY": "k"})
    try:
        port = None
        deadline = time.monotonic() + 30
        lines = []
        while port is None and time.monotonic() < deadline:
            line = p.stderr.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
        assert port, "".join(lines)
        assert any("rules_sha256 " + sha(ACME_TEXT) in x for x in lines)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            assert c.get("/healthz").status_code == 200
            assert c.post("/v1/score", json={"id": "a"}).status_code == 401
            assert c.post("/v1/score", json={"id": "a"}, headers={"Authorization": "Bearer k"}).status_code == 200
    finally:
        p.terminate()
        p.wait(timeout=20)


@pytest.mark.parametrize("change, code, words", [
    (lambda t: t.replace("fields {", "fields {{"), 2, "does not compile"),
    (lambda t: t.replace("expect grade A3", "expect grade B3"), 1, "tests fail"),
])
def test_cli_refuses_a_file_that_cannot_serve(tmp_path, change, code, words):
    f = tmp_path / "x.rules"
    f.write_text(change(ACME_TEXT), encoding="utf-8")
    p = _cli("serve", str(f), "--port", "0")
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert words in err and "Traceback" not in err


def test_cli_shadow_needs_log_and_empty_key_is_refused():
    p = _cli("serve", str(ACME), "--shadow", str(ACME), "--port", "0")
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "--shadow needs --log" in err
    p = _cli("serve", str(ACME), "--port", "0", env={"LEADRULES_API_KEY": ""})
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "LEADRULES_API_KEY is set but empty" in err


def test_missing_extra_is_one_line_naming_it():
    code = ("import sys; sys.modules['starlette'] = None; sys.argv = ['leadrules', 'serve', %r]; "
            "from cli import main; main()" % str(ACME))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 2
    assert p.stderr.strip() == "error: leadrules serve needs Starlette and uvicorn: pip install 'leadrules[serve]'"


# ---- docs/serve.md's example --------------------------------------------------------------------


def _doc_block(marker: str) -> dict:
    doc = (ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    m = re.search(re.escape(f"<!-- {marker} -->") + r"\s*```json\n(.*?)```", doc, re.S)
    assert m, marker
    return json.loads(m.group(1))


def test_the_documented_example(acme):
    lead = _doc_block("serve-example-request")
    for path, marker in (("/v1/score?as_of=2026-11-01", "serve-example-response"),
                         ("/v1/score?as_of=2026-11-01&format=flat", "serve-example-flat")):
        want = _doc_block(marker)
        got = acme.post(path, lead).json()
        assert want.pop("rules_sha256") == "…" and got.pop("rules_sha256") == sha(ACME_TEXT)
        assert got == want
        assert list(got) == list(want)  # the keys in the documented order


# ---- the pieces, without a server ----------------------------------------------------------------


def test_hubspot_uri_decodes_only_the_listed_escapes():
    from runtime.serve.auth import hubspot_uri

    assert hubspot_uri("https://x.io/v1/score?email=a%40b.com&t=%3A%2f%20%25") == \
        "https://x.io/v1/score?email=a@b.com&t=:/%20%25"
    assert hubspot_uri("%28%29%2A%2C%3B%21%24%27%3F") == "()*,;!$'?"


def test_mask_values():
    from runtime.serve.decisions import mask_value

    assert mask_value("ana@bigco.com") == "***@bigco.com"
    assert mask_value("+1 555 0100") == "***" and mask_value(42) == "***" and mask_value(None) is None
