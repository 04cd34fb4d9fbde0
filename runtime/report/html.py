"""The HTML page shell shared by the `--format html` reports and `leadrules docs`: escaping, one
stylesheet, tables, folded sections. A page is one self-contained file: no script, no external font,
style or image, so it can be mailed, archived and printed as it is.

Everything that reaches the page goes through `esc` unless it is `Markup` (HTML this module or
runtime/report/svg.py built from escaped parts), so a name, queue or lead value from a rule file or
an input can never become markup.
"""
from __future__ import annotations

import html as _html
from typing import Iterable

# Okabe–Ito: distinguishable with every common colour-vision deficiency, and in greyscale print
# mostly by lightness. Charts use these; the sequential heat-map scale is a single blue hue.
BLUE, ORANGE, GREEN, SKY, VERMILLION, PURPLE, YELLOW, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#56B4E9", "#D55E00", "#CC79A7", "#F0E442", "#777777")
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, GREY)
INK, MUTED, RULE = "#1b1f24", "#57606a", "#d0d7de"

FONT = ('system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", '
        '"Liberation Sans", sans-serif')


class Markup(str):
    """Text that is already HTML (built here from escaped parts): `esc` leaves it as it is."""

    __slots__ = ()


def esc(x) -> Markup:
    """Any value as HTML text: `&`, `<`, `>`, `"` and `'` escaped (safe in text and quoted attributes)."""
    if isinstance(x, Markup):
        return x
    return Markup(_html.escape("" if x is None else str(x), quote=True))


def attrs(**kw) -> Markup:
    """` name="value"` pairs, every value escaped and double-quoted; `data_x` becomes `data-x`, `cls`
    becomes `class`; None values are left out."""
    out = []
    for k, v in kw.items():
        if v is None:
            continue
        name = "class" if k == "cls" else k.rstrip("_").replace("_", "-")
        out.append(f' {name}="{esc(v)}"')
    return Markup("".join(out))


def tag(name: str, body="", **kw) -> Markup:
    return Markup(f"<{name}{attrs(**kw)}>{esc(body)}</{name}>")


def join(parts: Iterable) -> Markup:
    return Markup("".join(esc(p) for p in parts))


CSS = """
:root { color-scheme: light; }
body { font-family: %(font)s; color: %(ink)s; background: #fff; margin: 0 auto; padding: 28px 36px 48px;
  max-width: 1080px; font-size: 15px; line-height: 1.45; }
h1 { font-size: 24px; margin: 0 0 2px; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 34px 0 8px; padding-bottom: 5px; border-bottom: 1px solid %(rule)s; font-weight: 650; }
h3 { font-size: 15.5px; margin: 22px 0 6px; font-weight: 650; }
p { margin: 6px 0 10px; }
.sub { color: %(muted)s; font-size: 13.5px; margin: 0 0 2px; }
.summary { font-size: 16.5px; font-weight: 600; margin: 16px 0 22px; padding: 10px 14px;
  border-left: 5px solid %(blue)s; background: #eef5fb; }
.summary.bad { border-left-color: %(red)s; background: #fcefe7; }
.note { color: %(muted)s; font-size: 13.5px; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 13.5px; }
caption { text-align: left; font-weight: 600; padding: 0 0 4px; white-space: nowrap; }
td strong { white-space: nowrap; }
th, td { padding: 4px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid #e6e9ed; }
thead th { background: #f4f6f8; border-bottom: 2px solid %(rule)s; font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.num { text-align: right; font-variant-numeric: tabular-nums lining-nums; white-space: nowrap; }
td.tot, th.tot { font-weight: 600; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12.5px; }
.pass { color: #00664a; font-weight: 600; }
.fail { color: #b34700; font-weight: 700; }
figure { margin: 8px 0 6px; }
figcaption { color: %(muted)s; font-size: 13px; margin-top: 2px; text-align: left; }
svg { max-width: 100%%; height: auto; overflow: visible; }
svg text { font-family: %(font)s; font-variant-numeric: tabular-nums; }
details { margin: 4px 0 14px; }
details > summary { cursor: pointer; color: #0b4f8a; font-weight: 600; font-size: 13.5px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px 36px; align-items: flex-start; }
.grid > figure { display: table; }
.grid > figure > figcaption { display: table-caption; caption-side: bottom; }
.kv { border: none; }
.kv th { background: none; border: none; color: %(muted)s; font-weight: 500; padding: 2px 16px 2px 0; }
.kv td { border: none; background: none !important; padding: 2px 0; }
.sign { margin-top: 18px; border-collapse: separate; border-spacing: 18px 0; margin-left: -18px; }
.sign th { background: none; border: none; text-align: left; color: %(muted)s; font-weight: 500; }
.sign td { border: none; background: none !important; vertical-align: bottom; padding: 0 4px 4px; }
.sign td.blank { height: 52px; min-width: 190px; border-bottom: 1px solid %(ink)s; }
.sign td.who { font-weight: 600; padding-right: 10px; }
footer { margin-top: 40px; color: %(muted)s; font-size: 12.5px; border-top: 1px solid %(rule)s; padding-top: 8px; }
@page { margin: 14mm 12mm; }
@media print {
  body { padding: 0; max-width: none; font-size: 10.5pt; }
  table { font-size: 9.5pt; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure, table, .sign { break-inside: avoid; page-break-inside: avoid; }
  details > summary { color: %(ink)s; }
  details::details-content { content-visibility: visible; display: block; }
  .summary { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  svg { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
""" % {"font": FONT, "ink": INK, "muted": MUTED, "rule": RULE, "blue": BLUE, "red": VERMILLION}


class Page:
    """One report page: a title, lines under it, the one-line summary, then sections in order."""

    def __init__(self, title: str, summary: str, *, sub: Iterable[str] = (), bad: bool = False,
                 doc_title: str | None = None):
        self.title, self.summary, self.sub, self.bad = title, summary, list(sub), bad
        self.doc_title = doc_title or title
        self.parts: list[Markup] = []

    def add(self, *parts) -> None:
        self.parts.extend(esc(p) if not isinstance(p, Markup) else p for p in parts)

    def render(self, footer: str | None = None) -> str:
        head = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f'<meta name="generator" content="leadrules">\n'
                f"<title>{esc(self.doc_title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n")
        body = [f"<header>\n<h1>{esc(self.title)}</h1>\n"]
        body += [f'<p class="sub">{esc(s)}</p>\n' for s in self.sub]
        body.append(f'<p class="summary{" bad" if self.bad else ""}" id="summary">{esc(self.summary)}</p>\n'
                    "</header>\n<main>\n")
        body += [p + "\n" for p in self.parts]
        body.append("</main>\n")
        if footer:
            body.append(f"<footer>{esc(footer)}</footer>\n")
        return head + "".join(body) + "</body>\n</html>\n"


def h2(text, id: str | None = None) -> Markup:
    return tag("h2", text, id=id)


def h3(text, id: str | None = None) -> Markup:
    return tag("h3", text, id=id)


def para(text, cls: str | None = None) -> Markup:
    return tag("p", text, cls=cls)


def table(head: list, rows: list[list], right: Iterable[int] = (), *, caption=None, cls: str | None = None,
          total_row: bool = False, row_attrs: list[dict] | None = None) -> Markup:
    """A table; columns in `right` are numbers (right-aligned, tabular figures). `total_row`: the last
    row is a total (bold). Cells are escaped unless they are Markup."""
    right = set(right)
    out = [f"<table{attrs(cls=cls)}>"]
    if caption is not None:
        out.append(f"<caption>{esc(caption)}</caption>")
    if head:
        out.append("<thead><tr>" + "".join(f"<th{attrs(cls='num' if i in right else None, scope='col')}>{esc(h)}</th>"
                                            for i, h in enumerate(head)) + "</tr></thead>")
    out.append("<tbody>")
    for k, r in enumerate(rows):
        tot = total_row and k == len(rows) - 1
        extra = attrs(**row_attrs[k]) if row_attrs else ""
        cells = []
        for i, c in enumerate(r):
            cl = " ".join(x for x in ("num" if i in right else "", "tot" if tot else "") if x) or None
            cells.append(f"<td{attrs(cls=cl)}>{esc(c)}</td>")
        out.append(f"<tr{extra}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return Markup("".join(out))


def kv_table(pairs: Iterable[tuple]) -> Markup:
    """Label: value lines, for a header block."""
    return Markup('<table class="kv"><tbody>' + "".join(f"<tr><th scope=\"row\">{esc(k)}</th><td>{esc(v)}</td></tr>"
                                                       for k, v in pairs) + "</tbody></table>")


FOLD_ROWS = 12  # a table longer than this is folded under <details>


def details(summary, body, open_: bool = False) -> Markup:
    return Markup(f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{esc(body)}</details>")


def maybe_fold(summary: str, tbl: Markup, n_rows: int) -> Markup:
    """A table as it is when short, folded under `summary` when it has more than FOLD_ROWS rows."""
    return details(summary, tbl) if n_rows > FOLD_ROWS else tbl


def figure(svg_markup: Markup, caption=None) -> Markup:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return Markup(f"<figure>{svg_markup}{cap}</figure>")


def result_word(passed) -> Markup:
    if passed is None:
        return Markup('<span class="fail">ERROR</span>')
    return Markup('<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>')


def write_page(page: str, path: str | None, what: str = "report") -> None:
    """The page to `path` (UTF-8; a short note on stderr), or to stdout when `path` is None or `-`."""
    import sys

    from runtime.core.errors import Failure

    if path is None or path == "-":
        sys.stdout.write(page)
        sys.stdout.flush()
        return
    from runtime.io.files import open_output

    with open_output(path) as fh:  # whole or absent; a path that cannot be written is a Failure
        fh.write(page)
    print(f"{what} written to {path}", file=sys.stderr)
