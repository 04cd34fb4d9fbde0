"""Prints the red-team counts (cases tried and failures per category) at the end of the session."""
from tests.redteam.common import COUNTS


def pytest_terminal_summary(terminalreporter):
    if not COUNTS:
        return
    tr = terminalreporter
    tr.section("red-team cases")
    total = failures = 0
    for cat in sorted(COUNTS):
        tried, failed = COUNTS[cat]
        total += tried
        failures += failed
        tr.write_line(f"{cat:<34} {tried:>7,} cases  {failed:>3} failures")
    tr.write_line(f"{'total':<34} {total:>7,} cases  {failures:>3} failures")
