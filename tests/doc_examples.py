"""Rule examples in the docs: every fenced block whose info string is `rules` or `leadrules`.

docs/reference.md ("About the examples") documents the convention: a block with a `ruleset` line is a
complete file; any other block is a fragment that `wrap` places in a minimal ruleset (PRELUDE).
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(?:rules|leadrules)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def doc_files() -> list[Path]:
    return sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


def rule_blocks(path: Path, bad: bool = False) -> list[tuple[int, str]]:
    """(line of the opening fence, text) of each rules block in a Markdown file. A block introduced by
    a line ending in "Bad:" shows a mistake (docs/lint.md): it is left out, or, with `bad`, the only
    kind returned."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = [ln for ln in text[:m.start()].splitlines() if ln.strip()]
        is_bad = bool(before) and before[-1].rstrip().endswith("Bad:")
        if is_bad == bad:
            out.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
    return out


def repo_rule_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.rules") if ".git" not in p.parts)


# The declarations every fragment may use (docs/reference.md shows them in its first example), each
# added unless the fragment declares it itself.
PRELUDE = {
    "ruleset": 'ruleset "example" version 1\n',
    "fields": """fields {
  email: text
  first_name: text
  last_name: text
  title: text
  company: text
  company_size: number
  industry: text
  country: text
  annual_revenue: number
  lead_source: text
  created_at: date
  opted_out: bool
  interests: text list
}
""",
    "events": """events {
  email_open
  email_click
  web_visit(page: text)
  form_submit(form: text)
  webinar_attended(webinar: text)
  content_download(asset: text)
  unsubscribe
}
""",
    "list target_industries": 'list target_industries = ["Software", "Financial Services", "Healthcare"]\n',
    "list competitor_domains": 'list competitor_domains = ["rivalsoft.com", "competeco.io"]\n',
    "list personal_domains": 'list personal_domains = ["gmail.com", "yahoo.com", "hotmail.com"]\n',
}

# Sections a fragment gets when it does not declare them itself (so that a `route` has grades, ...).
DEFAULTS = {
    "disqualify": 'disqualify "competitor" when domain(email) in competitor_domains\n',
    "score profile": 'score profile "Who they are" max 100 {\n  "Enterprise" +25 when company_size >= 1000\n}\n',
    "score engagement": ('score engagement "How interested" max 100 {\n  decay half-life 30 days\n'
                         '  "Demo request" +40 each form_submit where form = "demo-request" max 40\n}\n'),
    "grade profile": "grade profile { A when >= 80  B when >= 60  C when >= 30  D otherwise }\n",
    "grade engagement": "grade engagement { 1 when >= 75  2 when >= 50  3 when >= 25  4 otherwise }\n",
}
ROUTE = ('route {\n  A1, A2, B1 -> sales "hot-leads" within 1 hour\n  disqualified -> suppress\n'
         '  otherwise -> nurture "education-track"\n}\n')
PLAIN_ROUTE = 'route {\n  disqualified -> suppress\n  otherwise -> nurture "education-track"\n}\n'


def _declares(body: str, key: str) -> bool:
    # `events "path"` inside a simulation is not an events section
    tail = r"\s*\{" if key in ("fields", "events") else r"\b"
    return re.search(r"^\s*" + key.replace(" ", r"\s+") + tail, body, re.M) is not None


_TEST_STMT = re.compile(r"^\s*(?:expect|lead\b|event\b|as\s+of)")
_SIM_STMT = re.compile(r"^\s*(?:expect\s+share|leads\b)")


def _first_statement(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.strip().startswith("#"):
            return line
    return ""


def wrap(fragment: str) -> str:
    """The complete file a docs example stands for."""
    if re.search(r"^\s*ruleset\s", fragment, re.M):
        return fragment
    first = _first_statement(fragment)
    if first.lstrip().startswith('"') or first.lstrip().startswith("decay"):
        body = 'score example "Example" max 100 {\n' + fragment + "\n}\n"
    elif _SIM_STMT.match(first):
        body = 'simulation "example" {\n' + fragment + "\n}\n"
    elif _TEST_STMT.match(first):
        body = 'test "example" {\n' + fragment + "\n}\n"
    else:
        body = fragment
    parts = [text for key, text in PRELUDE.items() if not _declares(body, key)] + [body]
    parts += [text for key, text in DEFAULTS.items() if not _declares(body, key)]
    if not _declares(body, "route"):
        own = _declares(body, "score") or _declares(body, "grade")
        parts.append(PLAIN_ROUTE if own else ROUTE)
    return "\n".join(parts)
