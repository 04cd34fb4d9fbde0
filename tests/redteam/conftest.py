"""Prints the red-team counts (cases tried and failures per category) at the end of the session."""
from tests.redteam.common import COUNTS


def pytest_terminal_summary(terminalreporter):
    if not COUNTS:
        return
    tr = terminalreporter
    tr.section("red-team cases")
    total = failures = 0
    for cat in sorted(c for c in COUNTS if not c.startswith("xfail")):
        tried, failed = COUNTS[cat]
        total += tried
        failures += failed
        tr.write_line(f"{cat:<44} {tried:>7,} cases  {failed:>3} failures")
    tr.write_line(f"{'total':<44} {total:>7,} cases  {failures:>3} failures")
    # known gaps, each a strict xfail test (it fails the day the gap closes, so it cannot hide)
    for cat in sorted(c for c in COUNTS if c.startswith("xfail")):
        tried, failed = COUNTS[cat]
        tr.write_line(f"{cat:<44} {tried:>7,} cases  {failed:>3} expected failures")
