"""`leadrules test`: run the `test` blocks of rule files; `--coverage` says what no test exercises,
`--fail-under` gates on it, `--watch` reruns the tests of a file whenever it changes (docs/cli.md)."""
from __future__ import annotations

import os
import sys
import time

import click

from dsl.diagnostics import RuleError
from runtime.commands.options import EXIT_ERROR, EXIT_FAIL, EXIT_OK, as_of_option, print_rule_error, today_utc

CLEAR = "\x1b[2J\x1b[H"  # erase the screen, cursor home


def _run(files, select, default, want_coverage):
    """Load and test each file: ([(file, outcomes)], [FileCoverage], broken files)."""
    from runtime.analysis.coverage import coverage
    from runtime.analysis.testing import run_tests
    from runtime.backends.load import RulesInputError, load_rules

    results, covs, broken = [], [], []
    for f in files:
        try:
            rules = load_rules(f)
        except RuleError as e:
            print_rule_error(e)
            broken.append(f)
            continue
        except RulesInputError as e:
            click.echo(f"error: {e}", err=True)
            broken.append(f)
            continue
        outs = run_tests(rules.engine, default, select)
        results.append((f, outs))
        if want_coverage:
            covs.append(coverage(f, rules.engine, outs))
    return results, covs, broken


def _report(results, covs, fmt, cov_format, cov_out, color, want_coverage) -> None:
    """Print the test report and the coverage report where docs/cli.md says they go: stdout carries one
    document in the formats meant for machines."""
    if not want_coverage:
        click.echo(_tests_doc(results, fmt, color))
        return
    from runtime.report import coverage as covreport

    if cov_out:
        click.echo(_tests_doc(results, fmt, color))
        text = {"json": covreport.as_json, "cobertura": covreport.as_cobertura,
                "text": covreport.as_text}[cov_format](covs)
        try:
            with open(cov_out, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text if text.endswith("\n") else text + "\n")
        except OSError as e:
            raise click.ClickException(f"cannot write {cov_out} ({e.strerror})")
        from runtime.analysis.coverage import total_percent

        click.echo(f"coverage {total_percent(covs):.1f}% written to {cov_out} ({cov_format})", err=True)
    elif fmt == "json":
        import json

        doc = json.loads(_tests_doc(results, "json", False))
        doc["coverage"] = covreport.as_dict(covs)
        click.echo(json.dumps(doc, indent=2))
    elif cov_format == "text":
        click.echo(_tests_doc(results, fmt, color))
        click.echo(covreport.as_text(covs, color=color))
    else:  # the coverage document alone on stdout (`> coverage.xml`), the test report on stderr
        click.echo(_tests_doc(results, fmt, False), err=True)
        if cov_format == "json":
            click.echo(covreport.as_json(covs))
        else:
            click.echo(covreport.as_cobertura(covs), nl=False)  # ends in a newline already


def _tests_doc(results, fmt, color) -> str:
    from runtime.report import tests as testreport

    if fmt == "json":
        return testreport.as_json(results)
    if fmt == "junit":
        return testreport.as_junit(results)
    return testreport.as_text(results, color=color)


def _status(results, covs, broken, fail_under) -> int:
    if broken:
        return EXIT_ERROR
    if any(not o.passed for _, outs in results for o in outs):
        return EXIT_FAIL
    if fail_under is not None:
        from runtime.analysis.coverage import total_percent

        if total_percent(covs) < fail_under:
            return EXIT_FAIL
    return EXIT_OK


def _gate_message(covs, fail_under) -> None:
    from runtime.analysis.coverage import total_percent

    pct = total_percent(covs)
    if pct < fail_under:
        click.echo(f"coverage {pct:.1f}% is under --fail-under {fail_under:g}%", err=True)


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("-k", "select", default=None, help="Only tests whose name contains this text.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True)
@as_of_option
@click.option("--coverage", "want_coverage", is_flag=True,
              help="Also report which criteria, tiers, bands, route lines and disqualify reasons no test exercises.")
@click.option("--coverage-format", "cov_format", type=click.Choice(["text", "json", "cobertura"]), default=None,
              help="Format of the coverage report: text (default), json, or cobertura (XML for CI); implies "
                   "--coverage.")
@click.option("--coverage-out", "cov_out", type=click.Path(dir_okay=False), default=None,
              help="Write the coverage report to this file instead of stdout (implies --coverage).")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Exit 1 when total coverage is under PCT percent (implies --coverage).")
@click.option("--watch", is_flag=True, help="Keep running: rerun the tests of a file whenever it changes.")
@click.option("--watch-interval", type=click.FloatRange(min=0.05), default=0.5, show_default=True, metavar="SECONDS",
              help="With --watch: how often to look for changes.")
@click.option("--watch-limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --watch: stop after N runs (the first included) and exit with the last run's status.")
def test(files, select, fmt, as_of, want_coverage, cov_format, cov_out, fail_under, watch, watch_interval,
         watch_limit):
    """Run the `test` blocks of rule files."""
    want_coverage = want_coverage or cov_out is not None or fail_under is not None or cov_format is not None
    cov_format = cov_format or "text"
    if want_coverage and cov_out is None and (fmt == "junit" or (fmt == "json" and cov_format == "cobertura")):
        raise click.UsageError(f"--format {fmt} writes one document to stdout: give --coverage-out FILE for the "
                               f"{cov_format} coverage report")
    default = as_of or today_utc()
    if watch:
        sys.exit(_watch(files, select, fmt, default, want_coverage, cov_format, cov_out, fail_under,
                        watch_interval, watch_limit))
    from runtime.report.term import is_tty

    results, covs, broken = _run(files, select, default, want_coverage)
    _report(results, covs, fmt, cov_format, cov_out, is_tty(), want_coverage)
    if fail_under is not None and not broken:
        _gate_message(covs, fail_under)
    sys.exit(_status(results, covs, broken, fail_under))


def _stamp(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _watch(files, select, fmt, default, want_coverage, cov_format, cov_out, fail_under, interval, limit) -> int:
    """Run every file's tests, then poll the files' modification times and rerun the tests of the files
    that changed, each time on a cleared screen ending in one summary line. Ctrl-C stops (exit 0);
    `limit` stops after that many runs with the last run's exit status."""
    from runtime.analysis.coverage import total_percent

    files = list(dict.fromkeys(files))
    stamps = {f: _stamp(f) for f in files}
    todo = files
    runs, status = 0, EXIT_OK
    try:
        while True:
            click.echo(CLEAR, nl=False, color=True)  # forced: a watch is for a person at a terminal
            results, covs, broken = _run(todo, select, default, want_coverage)
            _report(results, covs, fmt, cov_format, cov_out, False, want_coverage)
            status = _status(results, covs, broken, fail_under)
            runs += 1
            passed = sum(1 for _, outs in results for o in outs if o.passed)
            failed = sum(1 for _, outs in results for o in outs if not o.passed)
            parts = [time.strftime("%H:%M:%S"), ", ".join(todo), f"{passed} passed, {failed} failed"]
            if broken:
                parts.append(f"{len(broken)} file{'s' if len(broken) != 1 else ''} do{'es' if len(broken) == 1 else ''} "
                             "not compile")
            if want_coverage and covs:
                parts.append(f"coverage {total_percent(covs):.1f}%")
            parts.append(f"watching {len(files)} file{'s' if len(files) != 1 else ''} (Ctrl-C to stop)")
            click.echo(" · ".join(parts))
            sys.stdout.flush()
            if limit is not None and runs >= limit:
                return status
            while True:
                time.sleep(interval)
                now = {f: _stamp(f) for f in files}
                todo = [f for f in files if now[f] != stamps[f]]
                stamps = now
                if todo:
                    break
    except KeyboardInterrupt:
        click.echo("stopped watching", err=True)
        return EXIT_OK
