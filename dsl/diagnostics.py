"""Diagnostics: the one record every layer uses to tell a user what is wrong, and where.

A `Diagnostic` has a stable code (LR1xx syntax, LR2xx names and types, LR3xx logic, LR4xx tests and
style), a slug, a severity, a message, a span and a hint. The checker returns all of them; commands
decide what to do (print, fail, annotate). Codes are never renumbered: docs/lint.md lists them.
"""
from __future__ import annotations

import dataclasses

from dsl.nodes import Span

ERROR, WARNING = "error", "warning"

# code -> (slug, severity). The single registry of codes; docs/lint.md documents each.
CODES: dict[str, tuple[str, str]] = {
    # LR1xx: syntax
    "LR101": ("syntax-error", ERROR),
    "LR102": ("unexpected-character", ERROR),
    "LR103": ("unexpected-end", ERROR),
    "LR104": ("invalid-literal", ERROR),
    # LR2xx: names and types
    "LR201": ("unknown-field", ERROR),
    "LR202": ("unknown-event", ERROR),
    "LR203": ("unknown-attribute", ERROR),
    "LR204": ("unknown-list", ERROR),
    "LR205": ("type-mismatch", ERROR),
    "LR206": ("duplicate-criterion", ERROR),
    "LR207": ("grade-unknown-dimension", ERROR),
    "LR208": ("duplicate-name", ERROR),
    "LR209": ("missing-section", ERROR),
    "LR210": ("repeated-section", ERROR),
    "LR211": ("unknown-dimension", ERROR),
    "LR212": ("invalid-regex", ERROR),
    "LR213": ("unknown-function-use", ERROR),
    "LR214": ("not-available-for-accounts", ERROR),
    "LR215": ("bad-column", ERROR),
    # LR3xx: logic
    "LR301": ("band-after-otherwise", ERROR),
    "LR302": ("bands-out-of-order", ERROR),
    "LR303": ("max-on-when", ERROR),
    "LR304": ("pattern-matches-no-grade", ERROR),
    "LR305": ("route-without-otherwise", ERROR),
    "LR306": ("unreachable-band", WARNING),
    "LR307": ("points-exceed-max", WARNING),
    "LR308": ("shadowed-route", WARNING),
    "LR309": ("unused-list", WARNING),
    "LR310": ("grade-without-otherwise", ERROR),
    "LR311": ("bad-dimension-bounds", ERROR),
    "LR312": ("duplicate-grade", ERROR),
    "LR313": ("otherwise-not-last", ERROR),
    # (LR314-LR320: dsl/lint.py)
    "LR314": ("never-fires", WARNING),
    "LR315": ("shadowed-disqualify", WARNING),
    "LR316": ("within-beyond-decay", WARNING),
    "LR317": ("unbounded-each", WARNING),
    "LR318": ("shadowed-tier", WARNING),
    "LR319": ("needless-from", WARNING),
    "LR320": ("reset-changes-nothing", WARNING),
    # LR4xx: tests and style
    "LR401": ("test-unknown-grade", ERROR),
    "LR402": ("test-unknown-route", ERROR),
    "LR403": ("test-unknown-criterion", ERROR),
    "LR404": ("test-unknown-reason", ERROR),
    "LR405": ("no-tests", WARNING),
    "LR406": ("section-order", WARNING),
    "LR407": ("test-bad-lead", ERROR),
    "LR408": ("duplicate-test", ERROR),
    # (LR409-LR410: dsl/lint.py)
    "LR409": ("needless-no-decay", WARNING),
    "LR410": ("useless-suppression", WARNING),
}


# A frozen slotted dataclass, not a pydantic model: `lint` and `test` start in a fraction of the time
# without importing pydantic (~60 ms), and a diagnostic needs no validation (the checker builds it).
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One finding. `span` is 1-based, end inclusive; `line` 0 means "the whole file"."""

    code: str
    slug: str
    severity: str
    message: str
    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def model_dump(self) -> dict:
        """The fields in order, as a dict (the JSON report's record of a finding)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def diag(code: str, message: str, span: Span | None, hint: str | None = None,
         severity: str | None = None, file: str | None = None) -> Diagnostic:
    slug, default_sev = CODES[code]
    span = span or Span()
    return Diagnostic(
        code=code, slug=slug, severity=severity or default_sev, message=message,
        file=file or span.file, line=span.line, col=span.col,
        end_line=span.end_line or span.line, end_col=span.end_col or span.col, hint=hint,
    )


def sort_key(d: Diagnostic):
    return (d.file, d.line, d.col, d.code)


def did_you_mean(name: str, candidates) -> str | None:
    """A `did you mean "x"?` hint, or None when nothing is close."""
    import difflib

    cands = list(candidates)
    m = difflib.get_close_matches(name, cands, n=1, cutoff=0.6)
    if not m:
        lowered = {c.lower(): c for c in cands}
        m = [lowered[name.lower()]] if name.lower() in lowered else []
    return f'did you mean "{m[0]}"?' if m else None


class RuleError(Exception):
    """A rule file that cannot be used: carries its diagnostics (errors first)."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        first = next((d for d in diagnostics if d.is_error), diagnostics[0] if diagnostics else None)
        super().__init__(f"{first.location()}: {first.code} {first.message}" if first else "rule error")
