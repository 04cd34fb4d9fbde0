"""Charts as inline SVG, drawn by our own code for the HTML reports: horizontal bars, a heat map, a
histogram with marked edges, rates with confidence intervals, lines over a sweep, and flows between
two columns. No library, no script; every label escaped (runtime/report/html.py `esc`).

Every mark that shows a number carries it machine-readably — `data-*` attributes with the exact
value of the json report, and a `<title>` a reader sees on hover — so tests can check that the
picture and the json agree.
"""
from __future__ import annotations

from typing import Callable, Iterable

from runtime.report.html import BLUE, INK, MUTED, ORANGE, RULE, VERMILLION, Markup, attrs, esc

FS = 12           # label font size, px
CH = 6.9          # average glyph width at FS, for layout (system sans fonts)
ROW = 22          # bar row height


def text_width(s: str, size: float = FS) -> float:
    return len(s) * CH * size / FS


def clip(s: str, n: int = 42) -> str:
    s = str(s)
    return s if len(s) <= n else s[: n - 1] + "…"


def _num(x: float) -> str:
    """Coordinates: two decimals at most, no trailing zeros."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _data(data: dict | None) -> dict:
    return {f"data_{k}": (v if not isinstance(v, float) else repr(v)) for k, v in (data or {}).items()}


class Svg:
    """An SVG being built: elements appended in order; `render` wraps them with a size and a label."""

    def __init__(self, width: float, height: float, label: str):
        self.w, self.h, self.label = width, height, label
        self.els: list[str] = []

    def add(self, el: str) -> None:
        self.els.append(el)

    def rect(self, x, y, w, h, fill, *, title=None, data=None, cls=None, **kw) -> None:
        t = f"<title>{esc(title)}</title>" if title is not None else ""
        a = attrs(x=_num(x), y=_num(y), width=_num(max(w, 0)), height=_num(max(h, 0)), fill=fill, cls=cls,
                  **_data(data), **kw)
        self.add(f"<rect{a}>{t}</rect>" if t else f"<rect{a}/>")

    def line(self, x1, y1, x2, y2, stroke=RULE, width=1, dash=None, **kw) -> None:
        self.add(f"<line{attrs(x1=_num(x1), y1=_num(y1), x2=_num(x2), y2=_num(y2), stroke=stroke, stroke_width=width, stroke_dasharray=dash, **kw)}/>")

    def text(self, x, y, s, *, anchor="start", size=FS, fill=INK, weight=None, title=None, **kw) -> None:
        t = f"<title>{esc(title)}</title>" if title is not None else ""
        self.add(f"<text{attrs(x=_num(x), y=_num(y), text_anchor=anchor, font_size=size, fill=fill, font_weight=weight, **kw)}>"
                 f"{t}{esc(s)}</text>")

    def circle(self, cx, cy, r, fill, *, title=None, data=None, **kw) -> None:
        t = f"<title>{esc(title)}</title>" if title is not None else ""
        self.add(f"<circle{attrs(cx=_num(cx), cy=_num(cy), r=_num(r), fill=fill, **_data(data), **kw)}>{t}</circle>")

    def path(self, d, *, fill="none", stroke=None, title=None, data=None, **kw) -> None:
        t = f"<title>{esc(title)}</title>" if title is not None else ""
        self.add(f"<path{attrs(d=d, fill=fill, stroke=stroke, **_data(data), **kw)}>{t}</path>")

    def legend(self, x, y, items: list[tuple[str, str]]) -> None:
        for name, colour in items:
            self.rect(x, y - 9, 11, 11, colour)
            self.text(x + 16, y, name, fill=MUTED)
            x += 16 + text_width(name) + 18

    def render(self) -> Markup:
        w, h = _num(self.w), _num(self.h)
        return Markup(f'<svg{attrs(viewBox=f"0 0 {w} {h}", width=w, height=h, role="img", aria_label=self.label)}>'
                      f"<title>{esc(self.label)}</title>" + "".join(self.els) + "</svg>")


def _label_col(labels: Iterable[str], lo: float = 60, hi: float = 280) -> float:
    return min(hi, max(lo, max((text_width(clip(s)) for s in labels), default=0) + 12))


def hbars(rows: list[dict], *, label: str, width: float = 720, vmax: float | None = None,
          colour: str = BLUE, second: tuple[str, str] | None = None, first_name: str | None = None) -> Markup:
    """Horizontal bars, one row each: `{"label", "value", "text", "data", "colour"?, "value2"?, "title"?}`.
    `vmax` fixes the scale (1 for rates); `second` = (name, colour) draws `value2` as a thinner bar below
    the first (e.g. how often a cap binds), with a legend."""
    lw = _label_col(r["label"] for r in rows)
    tw = 96                      # room for the value text after the bar
    x0, x1 = lw, width - tw
    top = 24 if second else 6
    rh = ROW + (8 if second else 0)
    h = top + rh * len(rows) + 6
    s = Svg(width, h, label)
    if second:
        s.legend(x0, 14, [(first_name or "value", colour), second])
    m = vmax if vmax is not None else max((abs(r["value"] or 0) for r in rows), default=0)
    m = m or 1
    for i, r in enumerate(rows):
        y = top + i * rh
        full = str(r["label"])
        s.text(lw - 8, y + 15, clip(full), anchor="end", title=full if clip(full) != full else None)
        v = r["value"] or 0
        bw = (x1 - x0) * min(v, m) / m
        bh = ROW - 8 if not second else ROW - 10
        s.rect(x0, y + 4, max(bw, 0.8 if v else 0), bh, r.get("colour", colour), title=r.get("title", f"{full}: {r['text']}"),
               data={"label": full, **(r.get("data") or {})}, cls="mark")
        s.text(x0 + bw + 6, y + 15, r["text"], fill=MUTED)
        if second and r.get("value2") is not None:
            v2 = r["value2"]
            bw2 = (x1 - x0) * min(v2, m) / m
            s.rect(x0, y + 4 + bh + 1, max(bw2, 0.8 if v2 else 0), 6, second[1], title=r.get("title2"),
                   data={"label": full, **(r.get("data2") or {})}, cls="mark2")
    s.line(x0, top, x0, h - 6, stroke=MUTED)
    return s.render()


def diverging(rows: list[dict], *, label: str, width: float = 720) -> Markup:
    """Bars left (negative, vermillion) or right (positive, blue) of zero: `{"label", "value", "text", "data"}`."""
    lw = _label_col(r["label"] for r in rows)
    h = 8 + ROW * len(rows) + 8
    s = Svg(width, h, label)
    mid = lw + (width - lw) / 2
    half = (width - lw) / 2 - 70
    m = max((abs(r["value"] or 0) for r in rows), default=0) or 1
    for i, r in enumerate(rows):
        y = 8 + i * ROW
        full = str(r["label"])
        s.text(lw - 8, y + 15, clip(full), anchor="end")
        v = r["value"] or 0
        bw = half * abs(v) / m
        x = mid if v >= 0 else mid - bw
        s.rect(x, y + 4, max(bw, 0.8 if v else 0), ROW - 8, BLUE if v >= 0 else VERMILLION,
               title=f"{full}: {r['text']}", data={"label": full, **(r.get("data") or {})}, cls="mark")
        if v >= 0:
            s.text(mid + bw + 6, y + 15, r["text"], fill=MUTED)
        else:
            s.text(mid - bw - 6, y + 15, r["text"], fill=MUTED, anchor="end")
    s.line(mid, 4, mid, h - 4, stroke=MUTED)
    return s.render()


def _blue(t: float) -> str:
    """A sequential single-hue scale (ColorBrewer Blues): t in [0, 1], light to dark."""
    stops = [(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)]
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    f = t - i
    a, b = stops[i], stops[i + 1]
    return "#%02x%02x%02x" % tuple(round(a[k] + (b[k] - a[k]) * f) for k in range(3))


def heatmap(row_labels: list[str], col_labels: list[str], counts: list[list[int]], *, label: str,
            row_title: str, col_title: str, cell_text: Callable[[int, int, int], str] | None = None,
            cell_data: Callable[[int, int, int], dict] | None = None, cell: tuple[float, float] = (64, 34),
            diagonal_grey: bool = False) -> Markup:
    """A matrix of counts as coloured cells (darker = more), each cell labelled with its count.
    `diagonal_grey`: the diagonal (nothing changed) is grey and the scale is set by the other cells."""
    cw, chh = cell
    lw = _label_col(row_labels, lo=40, hi=180) + 14
    top = 44
    width = lw + cw * len(col_labels) + 10
    height = top + chh * len(row_labels) + 10
    s = Svg(width, height, label)
    s.text(lw + cw * len(col_labels) / 2, 14, col_title, anchor="middle", fill=MUTED, weight="600")
    s.text(4, 14, row_title, fill=MUTED, weight="600")
    m = max((c for i, row in enumerate(counts) for j, c in enumerate(row) if not (diagonal_grey and i == j)),
            default=0) or 1
    for j, cl in enumerate(col_labels):
        s.text(lw + cw * j + cw / 2, top - 8, clip(cl, 9), anchor="middle", title=cl if clip(cl, 9) != cl else None)
    for i, rl in enumerate(row_labels):
        y = top + chh * i
        s.text(lw - 8, y + chh / 2 + 4, clip(rl, 24), anchor="end")
        for j, _cl in enumerate(col_labels):
            c = counts[i][j]
            t = min(c / m, 1) ** 0.5 if c else 0   # square root: small cells stay visible next to a big one
            fill = _blue(t) if c else "#ffffff"
            if diagonal_grey and i == j:
                t, fill = 0, ("#e6e8eb" if c else "#ffffff")
            x = lw + cw * j
            txt = cell_text(i, j, c) if cell_text else f"{c:,}"
            s.rect(x, y, cw, chh, fill, stroke="#ffffff" if c else "#eef0f2", stroke_width=1.5,
                   title=f"{rl} × {col_labels[j]}: {txt}",
                   data={"row": rl, "col": col_labels[j], "count": c, **(cell_data(i, j, c) if cell_data else {})},
                   cls="cell")
            if c:
                s.text(x + cw / 2, y + chh / 2 + 4, txt, anchor="middle", size=11.5,
                       fill="#ffffff" if t > 0.55 else INK)
    return s.render()


def histogram(bins: list[dict], *, label: str, lo: float, hi: float, marks: list[dict] = (),
              width: float = 640, height: float = 190, fmt: Callable = str) -> Markup:
    """Vertical bars over [lo, hi]: `{"from", "to", "count", "text", "data"}`; `marks` are vertical
    lines with a name (band edges): `{"at", "name"}`."""
    left, right, top, bottom = 48, 16, 22, 28
    s = Svg(width, height, label)
    pw, ph = width - left - right, height - top - bottom
    span = (hi - lo) or 1
    X = lambda v: left + pw * (v - lo) / span  # noqa: E731
    m = max((b["count"] for b in bins), default=0) or 1
    # y grid: 0, half (when it is a whole number of leads of its own), max
    for v in sorted({0, m // 2, m} if m >= 4 else {0, m}):
        y = top + ph - ph * v / m
        s.line(left, y, left + pw, y, stroke="#eceef1")
        s.text(left - 6, y + 4, f"{v:,}", anchor="end", size=10.5, fill=MUTED)
    for b in bins:
        x0, x1 = X(b["from"]), X(b["to"])
        bh = ph * b["count"] / m
        s.rect(x0 + 1, top + ph - bh, x1 - x0 - 2, bh, BLUE, title=b.get("text"),
               data=b.get("data"), cls="mark")
    edges = sorted({b["from"] for b in bins} | {b["to"] for b in bins})
    step = max(1, len(edges) // 11)
    for k, e in enumerate(edges):
        if k % step == 0 or k == len(edges) - 1:
            s.text(X(e), top + ph + 16, fmt(e), anchor="middle", size=10.5, fill=MUTED)
    s.line(left, top + ph, left + pw, top + ph, stroke=MUTED)
    for mk in marks:
        x = X(mk["at"])
        s.line(x, top - 4, x, top + ph, stroke=VERMILLION, width=1.5, dash="4 3",
               **{f"data_{k}": v for k, v in (mk.get("data") or {}).items()}, cls="edge")
        s.text(x + 3, top - 8, mk["name"], fill=VERMILLION, size=11, weight="600")
    return s.render()


def intervals(rows: list[dict], *, label: str, width: float = 720, reference: tuple[str, float] | None = None,
              colour: str = BLUE) -> Markup:
    """Rates on a 0–100% axis, a dot with its confidence interval as a whisker:
    `{"label", "rate", "lo", "hi", "text", "data", "colour"?, "other"?}` (rate None: nothing to draw;
    `other`: a second rate drawn as a hollow dot joined to the first, e.g. the rate without)."""
    lw = _label_col(r["label"] for r in rows)
    tw = 150
    x0, x1 = lw, width - tw
    top = 22
    h = top + ROW * len(rows) + 8
    s = Svg(width, h, label)
    X = lambda v: x0 + (x1 - x0) * v  # noqa: E731
    for k in range(5):
        x = X(k / 4)
        s.line(x, top - 4, x, h - 6, stroke="#eceef1")
        s.text(x, top - 8, f"{25 * k}%", anchor="middle", size=10.5, fill=MUTED)
    if reference is not None:
        name, v = reference
        s.line(X(v), top - 2, X(v), h - 6, stroke=ORANGE, width=1.5, dash="5 3", cls="reference",
               data_value=repr(v))
    for i, r in enumerate(rows):
        y = top + i * ROW + ROW / 2
        full = str(r["label"])
        s.text(lw - 8, y + 4, clip(full), anchor="end")
        if r.get("rate") is None:
            s.text(x0 + 4, y + 4, r.get("text") or "no worked leads", fill=MUTED, size=11)
            continue
        c = r.get("colour", colour)
        if r.get("other") is not None:   # a second rate to compare with: a hollow dot, joined to the first
            s.line(X(r["other"]), y, X(r["rate"]), y, stroke="#b8bec6", width=2)
            s.circle(X(r["other"]), y, 4, "#ffffff", stroke=c, stroke_width="1.5", cls="other",
                     data={"label": full, "value": r["other"]})
        if r.get("lo") is not None:
            s.line(X(r["lo"]), y, X(r["hi"]), y, stroke=c, width=2)
            s.line(X(r["lo"]), y - 4, X(r["lo"]), y + 4, stroke=c, width=1.5)
            s.line(X(r["hi"]), y - 4, X(r["hi"]), y + 4, stroke=c, width=1.5)
        s.circle(X(r["rate"]), y, 4.5, c, title=f"{full}: {r['text']}",
                 data={"label": full, **(r.get("data") or {})}, cls="mark")
        s.text(x1 + 10, y + 4, r["text"], fill=MUTED, size=11.5)
    if reference is not None:
        s.text(X(reference[1]) + 4, h - 1, reference[0], fill=ORANGE, size=10.5)
    return s.render()


def lines(xs: list[float], series: list[dict], *, label: str, width: float = 720, height: float = 230,
          marker: tuple[str, float] | None = None, x_title: str = "", fmt_x: Callable = str) -> Markup:
    """Series over x on a 0–100% axis: `{"name", "colour", "ys", "lo"?, "hi"?, "data"}` where `data` is
    a list of per-point dicts; `lo`/`hi` draw a shaded interval. `marker` = (name, x): a vertical line
    (the current threshold)."""
    left, right, top, bottom = 48, 20, 30, 38
    s = Svg(width, height, label)
    pw, ph = width - left - right, height - top - bottom
    a, b = (min(xs), max(xs)) if xs else (0, 1)
    span = (b - a) or 1
    X = lambda v: left + pw * (v - a) / span  # noqa: E731
    Y = lambda v: top + ph - ph * v  # noqa: E731
    s.legend(left, 14, [(sr["name"], sr["colour"]) for sr in series])
    for k in range(5):
        y = Y(k / 4)
        s.line(left, y, left + pw, y, stroke="#eceef1")
        s.text(left - 6, y + 4, f"{25 * k}%", anchor="end", size=10.5, fill=MUTED)
    step = max(1, len(xs) // 10)
    for k, x in enumerate(xs):
        if k % step == 0 or k == len(xs) - 1:
            s.text(X(x), top + ph + 15, fmt_x(x), anchor="middle", size=10.5, fill=MUTED)
    if x_title:
        s.text(left + pw / 2, height - 4, x_title, anchor="middle", size=11, fill=MUTED)
    for sr in series:
        pts = [(X(x), Y(y)) for x, y in zip(xs, sr["ys"]) if y is not None]
        if sr.get("lo") is not None:
            lo = [(X(x), Y(v)) for x, v in zip(xs, sr["lo"]) if v is not None]
            hi = [(X(x), Y(v)) for x, v in zip(xs, sr["hi"]) if v is not None]
            if lo and hi:
                d = "M" + " L".join(f"{_num(p)},{_num(q)}" for p, q in hi + lo[::-1]) + " Z"
                s.path(d, fill=sr["colour"], opacity="0.15")
        if pts:
            s.path("M" + " L".join(f"{_num(p)},{_num(q)}" for p, q in pts), stroke=sr["colour"], stroke_width="2")
        for k, (x, y) in enumerate(zip(xs, sr["ys"])):
            if y is None:
                continue
            dd = sr["data"][k] if sr.get("data") else {}
            s.circle(X(x), Y(y), 3, sr["colour"], title=f"{sr['name']} at {fmt_x(x)}: {100 * y:.1f}%",
                     data={"series": sr["name"], "x": x, **dd}, cls="mark")
    if marker is not None:
        name, x = marker
        s.line(X(x), top - 2, X(x), top + ph, stroke=VERMILLION, width=1.5, dash="4 3", cls="marker",
               data_x=repr(float(x)))
        s.text(X(x) + 4, top + 10, name, fill=VERMILLION, size=11, weight="600")
    s.line(left, top + ph, left + pw, top + ph, stroke=MUTED)
    return s.render()


def flows(left: list[tuple[str, int]], right: list[tuple[str, int]], links: list[tuple[int, int, int]], *,
          label: str, titles: tuple[str, str] = ("before", "after"), width: float = 760,
          colours: list[str] | None = None) -> Markup:
    """Two columns of stacked boxes (counts on each side) and bands between them whose width is the
    number of leads going from a left box to a right box: `links` = (left index, right index, count).
    Every box is at least MIN_NODE high so that small routes stay legible; a band's ends take their
    share of the box they leave and of the box they reach. `colours`: one per left box."""
    from runtime.report.html import PALETTE

    colours = colours or list(PALETTE)
    gap, min_node = 10, 14
    n = max(len(left), len(right), 1)
    ph = max(240, 30 * n + 80)
    top = 26
    total = max(sum(c for _, c in left), sum(c for _, c in right), 1)
    scale = (ph - gap * (n - 1) - min_node * n) / total
    lw = _label_col([x for x, _ in left], hi=240) + 40
    rw = _label_col([x for x, _ in right], hi=240) + 40
    bw = 14
    xl, xr = lw + 20, width - rw - 20 - bw
    h = top + ph + 10
    s = Svg(width, h, label)
    s.text(xl + bw / 2, 14, titles[0], anchor="middle", fill=MUTED, weight="600")
    s.text(xr + bw / 2, 14, titles[1], anchor="middle", fill=MUTED, weight="600")

    def stack(side):
        pos, y = [], top
        for _name, c in side:
            hh = min_node + c * scale
            pos.append((y, hh))
            y += hh + gap
        return pos

    lp, rp = stack(left), stack(right)
    lused = [0.0] * len(left)
    rused = [0.0] * len(right)
    for i, j, c in sorted(links, key=lambda t: (t[0], t[1])):
        if c <= 0:
            continue
        ha = lp[i][1] * c / max(left[i][1], 1)
        hb = rp[j][1] * c / max(right[j][1], 1)
        ya = lp[i][0] + lused[i]
        yb = rp[j][0] + rused[j]
        lused[i] += ha
        rused[j] += hb
        xa, xb = xl + bw, xr
        mx = (xa + xb) / 2
        d = (f"M{_num(xa)},{_num(ya)} C{_num(mx)},{_num(ya)} {_num(mx)},{_num(yb)} {_num(xb)},{_num(yb)} "
             f"L{_num(xb)},{_num(yb + hb)} C{_num(mx)},{_num(yb + hb)} {_num(mx)},{_num(ya + ha)} {_num(xa)},{_num(ya + ha)} Z")
        moved = left[i][0] != right[j][0]
        s.path(d, fill=colours[i % len(colours)], opacity="0.6" if moved else "0.16",
               title=f"{left[i][0]} → {right[j][0]}: {c:,}",
               data={"from": left[i][0], "to": right[j][0], "count": c}, cls="flow")
    for k, ((name, c), (y, hh)) in enumerate(zip(left, lp)):
        s.rect(xl, y, bw, hh, colours[k % len(colours)], title=f"{name}: {c:,}",
               data={"side": "old", "label": name, "count": c}, cls="node")
        s.text(xl - 8, y + hh / 2 + 4, f"{clip(name, 30)}  {c:,}", anchor="end")
    for k, ((name, c), (y, hh)) in enumerate(zip(right, rp)):
        li = next((i for i, (nm, _) in enumerate(left) if nm == name), k)
        s.rect(xr, y, bw, hh, colours[li % len(colours)], title=f"{name}: {c:,}",
               data={"side": "new", "label": name, "count": c}, cls="node")
        s.text(xr + bw + 8, y + hh / 2 + 4, f"{c:,}  {clip(name, 30)}")
    return s.render()
