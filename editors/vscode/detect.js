// Is this text a leadrules file? `.rules` is also udev's and Firebase's extension, so the first
// statement decides: after a byte-order mark, blank lines and `#` comments it is `ruleset "…"`.
// The same rule as runtime/editor/detect.py (tests/test_vscode.py runs both on the same cases).
'use strict';

function isLeadrulesText(text) {
  text = text.replace(/^\uFEFF+/, '');
  const lines = text.split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (s === '' || s.startsWith('#')) continue;
    // the name may follow on the next line: `ruleset` and its string are one statement
    const rest = [lines[i].replace(/^\s+/, '')].concat(lines.slice(i + 1)).join('\n');
    return /^ruleset\s+"/.test(rest);
  }
  return false;
}

module.exports = { isLeadrulesText };
