"""The pytest plugin collects only leadrules files: a `.rules` file of udev or Firebase is left alone."""
from __future__ import annotations

from runtime.editor.detect import is_rules_file, is_rules_text

pytest_plugins = ["pytester"]

DEMO = '''# Our scoring
# (comments and blank lines may come first)

ruleset "d" version 1
fields { title: text }
score p "P" max 10 { "vp" +10 when title contains word "vp" }
grade p { A when >= 10  B otherwise }
test "a VP is an A" { lead { title: "VP Sales" } expect grade A }
'''

FIRESTORE = """rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /{document=**} { allow read, write: if false; }
  }
}
"""

UDEV = '# udev\nACTION=="add", SUBSYSTEM=="usb", ATTR{idVendor}=="0781", MODE="0666"\n'


def test_first_statement_decides():
    assert is_rules_text(DEMO)
    assert is_rules_text("\ufeff" + DEMO)  # a byte-order mark is skipped
    assert is_rules_text('ruleset\n  "split over two lines" version 1')
    assert not is_rules_text(FIRESTORE)
    assert not is_rules_text(UDEV)
    assert not is_rules_text("# only a comment\n\n")
    assert not is_rules_text('fields { a: text }\nruleset "late" version 1')
    assert not is_rules_text('rulesets "x"')


def test_unreadable_or_binary_file_is_not_ours(tmp_path):
    assert not is_rules_file(tmp_path / "missing.rules")
    p = tmp_path / "bin.rules"
    p.write_bytes(b"\x00\xff\xfe" * 10)
    assert not is_rules_file(p)


def test_firestore_and_udev_rules_are_left_alone(pytester):
    pytester.makefile(".rules", demo=DEMO, firestore=FIRESTORE, **{"99-usb": UDEV})
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*demo.rules::a VP is an A PASSED*"])
    assert "firestore.rules" not in result.stdout.str()
    assert "99-usb.rules" not in result.stdout.str()


def test_a_broken_leadrules_file_is_still_reported(pytester):
    # its first statement says it is ours, so a syntax error later on is a failure, not a skip
    pytester.makefile(".rules", broken='# ours\nruleset "d" version 1\nfields { title: text }\nscore p "P" max 10 {\n')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*LR103*"])


def test_plugin_can_be_turned_off(pytester):
    pytester.makefile(".rules", demo=DEMO)
    result = pytester.runpytest("-p", "no:leadrules", "demo.rules")
    # without the plugin pytest has no collector for .rules files
    assert result.ret != 0
    assert "a VP is an A" not in result.stdout.str()
    pytester.makeini("[pytest]\nleadrules_collect = false\n")
    result = pytester.runpytest()
    result.assert_outcomes()
    assert "a VP is an A" not in result.stdout.str()
