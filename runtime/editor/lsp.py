"""The leadrules language server (`leadrules lsp`, over stdio), built on pygls and lsprotocol.

Diagnostics from the checker and lint as you type, formatting (`leadrules fmt` as one edit), hover,
completion, go to definition, document symbols, and a code lens on each `test` block that runs it.
The answers come from runtime/editor/analysis.py; this module only speaks the protocol (positions in
the client's units, UTF-16 unless negotiated otherwise). docs/editors.md describes it.
"""
from __future__ import annotations

import datetime as dt

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.workspace.position_codec import ServerTextPosition

from dsl import nodes as n
from dsl.diagnostics import Diagnostic
from runtime.editor.analysis import RulesDocument
from runtime.editor.detect import is_rules_text

RUN_TEST = "leadrules.runTest"
RUN_TESTS = "leadrules.runTests"
SOURCE = "leadrules"

_SYMBOL_KINDS = {
    "ruleset": t.SymbolKind.Module, "fields": t.SymbolKind.Struct, "field": t.SymbolKind.Field,
    "events": t.SymbolKind.Struct, "event": t.SymbolKind.Event, "list": t.SymbolKind.Constant,
    "disqualify": t.SymbolKind.Boolean, "dimension": t.SymbolKind.Class, "criterion": t.SymbolKind.Method,
    "grade": t.SymbolKind.Enum, "band": t.SymbolKind.EnumMember, "accounts": t.SymbolKind.Namespace,
    "route": t.SymbolKind.Interface, "test": t.SymbolKind.Function, "simulation": t.SymbolKind.Function,
}
_COMPLETION_KINDS = {
    "field": t.CompletionItemKind.Field, "event": t.CompletionItemKind.Event, "list": t.CompletionItemKind.Constant,
    "band": t.CompletionItemKind.EnumMember, "dimension": t.CompletionItemKind.Class,
    "attribute": t.CompletionItemKind.Property, "criterion": t.CompletionItemKind.Method,
    "reason": t.CompletionItemKind.Text, "keyword": t.CompletionItemKind.Keyword,
}


# A client that lists no kinds supports only the protocol's first ones (Text..Reference for completion,
# File..Array for symbols): the newer kinds then fall back to the nearest old one.
_COMPLETION_FALLBACK = {t.CompletionItemKind.Event: t.CompletionItemKind.Function,
                        t.CompletionItemKind.Constant: t.CompletionItemKind.Variable,
                        t.CompletionItemKind.EnumMember: t.CompletionItemKind.Enum}
_SYMBOL_FALLBACK = {t.SymbolKind.Struct: t.SymbolKind.Namespace, t.SymbolKind.Event: t.SymbolKind.Function,
                    t.SymbolKind.EnumMember: t.SymbolKind.Constant, t.SymbolKind.Object: t.SymbolKind.Namespace}


def _supported(kind, value_set, first_version_max: int, fallback: dict):
    if value_set:
        return kind if kind in value_set else fallback.get(kind, kind)
    return kind if kind <= first_version_max else fallback.get(kind, kind)


def _completion_kind(ls, kind):
    try:
        vs = ls.client_capabilities.text_document.completion.completion_item_kind.value_set
    except AttributeError:
        vs = None
    return _supported(kind, vs, t.CompletionItemKind.Reference, _COMPLETION_FALLBACK)


def _symbol_kind(ls, kind):
    try:
        vs = ls.client_capabilities.text_document.document_symbol.symbol_kind.value_set
    except AttributeError:
        vs = None
    return _supported(kind, vs, t.SymbolKind.Array, _SYMBOL_FALLBACK)


class LeadrulesServer(LanguageServer):
    def __init__(self):
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("leadrules")
        except PackageNotFoundError:  # pragma: no cover - running from a checkout without metadata
            v = "0"
        super().__init__("leadrules", v, text_document_sync_kind=t.TextDocumentSyncKind.Incremental)
        self.docs: dict[str, RulesDocument] = {}
        self.results: dict[tuple[str, str], bool] = {}  # (uri, test) -> passed, for the lens titles


server = LeadrulesServer()


# ---- documents and positions ---------------------------------------------------------------------

def _ours(doc) -> bool:
    return doc.language_id == "leadrules" or is_rules_text(doc.source)


def _path(uri: str) -> str:
    from pygls.uris import to_fs_path

    return to_fs_path(uri) or uri


def _analyse(ls: LeadrulesServer, uri: str) -> RulesDocument | None:
    doc = ls.workspace.get_text_document(uri)
    if not _ours(doc):
        ls.docs.pop(uri, None)
        return None
    rd = RulesDocument(doc.source, _path(uri), ls.docs.get(uri))
    ls.docs[uri] = rd
    return rd


def _doc(ls: LeadrulesServer, uri: str) -> RulesDocument | None:
    rd = ls.docs.get(uri)
    doc = ls.workspace.get_text_document(uri)
    if rd is None or rd.text != doc.source:
        rd = _analyse(ls, uri)
    return rd


def _at(ls: LeadrulesServer, params) -> tuple[str, RulesDocument, int, int] | None:
    """(uri, document, line, column) of a request at a position; None when the document is unknown."""
    uri = params.text_document.uri
    rd = _doc(ls, uri)
    if rd is None:
        return None
    line, col = _from_client(ls, uri, params.position)
    return uri, rd, line, col


def _to_client(ls, uri: str, line: int, col: int) -> t.Position:
    doc = ls.workspace.get_text_document(uri)
    lines = doc.lines
    if line >= len(lines):  # past the last line: the end of the text
        if not lines or lines[-1].endswith("\n"):
            return t.Position(line=len(lines), character=0)
        return doc.position_to_client_units(ServerTextPosition(len(lines) - 1, len(lines[-1])))
    col = min(col, len(lines[line].rstrip("\r\n")))
    return doc.position_to_client_units(ServerTextPosition(line, col))


def _from_client(ls, uri: str, pos: t.Position) -> tuple[int, int]:
    doc = ls.workspace.get_text_document(uri)
    p = doc.position_from_client_units(pos)
    return p.line, p.character


def _range(ls, uri: str, line: int, start: int, end_line: int, end: int) -> t.Range:
    return t.Range(start=_to_client(ls, uri, line, start), end=_to_client(ls, uri, end_line, end))


def _span_range(ls, uri: str, sp) -> t.Range:
    """A 1-based inclusive span as an LSP range (0-based, end exclusive)."""
    if not sp.line:
        return _range(ls, uri, 0, 0, 0, 0)
    return _range(ls, uri, sp.line - 1, sp.col - 1, (sp.end_line or sp.line) - 1, sp.end_col or sp.col)


def _diagnostic(ls, uri: str, d: Diagnostic) -> t.Diagnostic:
    if d.line:
        rng = _range(ls, uri, d.line - 1, d.col - 1, (d.end_line or d.line) - 1, d.end_col or d.col)
    else:
        rng = _range(ls, uri, 0, 0, 0, 0)
    msg = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    return t.Diagnostic(range=rng, message=msg, severity=t.DiagnosticSeverity.Error if d.is_error
                        else t.DiagnosticSeverity.Warning, code=d.code, source=SOURCE,
                        data={"slug": d.slug, "hint": d.hint})


def _publish(ls: LeadrulesServer, uri: str) -> None:
    rd = _analyse(ls, uri)
    diags = [] if rd is None else [_diagnostic(ls, uri, d) for d in rd.diagnostics]
    doc = ls.workspace.get_text_document(uri)
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=doc.version))


# ---- document sync -------------------------------------------------------------------------------

@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LeadrulesServer, params: t.DidOpenTextDocumentParams):
    _publish(ls, params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LeadrulesServer, params: t.DidChangeTextDocumentParams):
    _publish(ls, params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: LeadrulesServer, params: t.DidSaveTextDocumentParams):
    _publish(ls, params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: LeadrulesServer, params: t.DidCloseTextDocumentParams):
    uri = params.text_document.uri
    ls.docs.pop(uri, None)
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


# ---- features ------------------------------------------------------------------------------------

@server.feature(t.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: LeadrulesServer, params: t.DocumentFormattingParams):
    from dsl.diagnostics import RuleError
    from dsl.formatter import format_text

    uri = params.text_document.uri
    rd = _doc(ls, uri)
    if rd is None:
        return None
    try:
        out = format_text(rd.text, rd.path)
    except RuleError:
        return None  # a file that does not parse is left as it is; its diagnostics say why
    if out == rd.text:
        return []
    lines = rd.text.split("\n")
    end = _range(ls, uri, 0, 0, len(lines) - 1, len(lines[-1])).end
    return [t.TextEdit(range=t.Range(start=t.Position(line=0, character=0), end=end), new_text=out)]


@server.feature(t.TEXT_DOCUMENT_HOVER)
def hover(ls: LeadrulesServer, params: t.HoverParams):
    at = _at(ls, params)
    if at is None:
        return None
    uri, rd, line, col = at
    hit = rd.hover(line, col)
    if hit is None:
        return None
    text, (hl, a, b) = hit
    kind = t.MarkupKind.Markdown if _client_takes_markdown(ls) else t.MarkupKind.PlainText
    return t.Hover(contents=t.MarkupContent(kind=kind, value=text), range=_range(ls, uri, hl, a, hl, b))


def _client_takes_markdown(ls) -> bool:
    """Markdown only for a client that says it renders it (the protocol's default is plain text)."""
    try:
        fmts = ls.client_capabilities.text_document.hover.content_format
    except AttributeError:
        return False
    return bool(fmts) and t.MarkupKind.Markdown in fmts


@server.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=[" ", "["]))
def completion(ls: LeadrulesServer, params: t.CompletionParams):
    at = _at(ls, params)
    if at is None:
        return None
    _uri, rd, line, col = at
    items = [t.CompletionItem(label=label, kind=_completion_kind(ls, _COMPLETION_KINDS.get(kind, t.CompletionItemKind.Text)),
                              detail=detail,
                              sort_text=f"{i:04d}")
             for i, (label, kind, detail) in enumerate(rd.completions(line, col))]
    return t.CompletionList(is_incomplete=False, items=items)


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
def definition(ls: LeadrulesServer, params: t.DefinitionParams):
    at = _at(ls, params)
    if at is None:
        return None
    uri, rd, line, col = at
    sp = rd.definition(line, col)
    if sp is None:
        return None
    return t.Location(uri=uri, range=_span_range(ls, uri, sp))


@server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: LeadrulesServer, params: t.DocumentSymbolParams):
    uri = params.text_document.uri
    rd = _doc(ls, uri)
    if rd is None:
        return []

    def conv(s) -> t.DocumentSymbol:
        rng = _span_range(ls, uri, s["span"])
        sel = _span_range(ls, uri, s["sel"])
        return t.DocumentSymbol(name=s["name"], kind=_symbol_kind(ls, _SYMBOL_KINDS.get(s["kind"], t.SymbolKind.Object)),
                                detail=s["detail"] or None, range=rng, selection_range=sel,
                                children=[conv(c) for c in s["children"]] or None)

    try:
        hierarchical = bool(ls.client_capabilities.text_document.document_symbol.hierarchical_document_symbol_support)
    except AttributeError:
        hierarchical = False
    if hierarchical:
        return [conv(s) for s in rd.outline()]
    # a client without nested outlines gets the flat form, each symbol naming its container
    flat = []

    def walk(items, container):
        for s in items:
            flat.append(t.SymbolInformation(name=s["name"], kind=_symbol_kind(ls, _SYMBOL_KINDS.get(s["kind"], t.SymbolKind.Object)),
                                            location=t.Location(uri=uri, range=_span_range(ls, uri, s["span"])),
                                            container_name=container))
            walk(s["children"], s["name"])

    walk(rd.outline(), None)
    return flat


@server.feature(t.TEXT_DOCUMENT_CODE_LENS)
def code_lens(ls: LeadrulesServer, params: t.CodeLensParams):
    uri = params.text_document.uri
    rd = _doc(ls, uri)
    if rd is None:
        return []
    lenses = []
    tests = rd.tests()
    ruleset = rd.rf.first(n.Ruleset) if rd.rf is not None and tests else None
    if ruleset is not None:
        line = ruleset.span.line - 1
        lenses.append(t.CodeLens(range=_range(ls, uri, line, ruleset.span.col - 1, line, ruleset.span.col + 6),
                                 command=t.Command(title=f"▶ Run all {len(tests)} test{'s' if len(tests) != 1 else ''}",
                                                   command=RUN_TESTS, arguments=[uri])))
    for test in tests:
        last = ls.results.get((uri, test.name))
        title = "▶ Run test" + ("" if last is None else " (last run: passed)" if last else " (last run: FAILED)")
        line = test.span.line - 1
        lenses.append(t.CodeLens(range=_range(ls, uri, line, test.span.col - 1, line, test.span.col - 1 + len("test")),
                                 command=t.Command(title=title, command=RUN_TEST, arguments=[uri, test.name])))
    return lenses


@server.command(RUN_TEST)
def run_test_command(ls: LeadrulesServer, *args):
    """Run one test of the open document: arguments [uri, test name] and optionally an as-of date
    (YYYY-MM-DD) for tests without `as of`. The result is returned and shown as a message."""
    uri, name = str(args[0]), str(args[1])
    as_of = str(args[2]) if len(args) > 2 and args[2] else None
    rd = _doc(ls, uri)
    if rd is None:
        return {"name": name, "passed": False, "failures": ["not a leadrules file"], "error": True}
    default = dt.date.fromisoformat(as_of) if as_of else None
    out = rd.run_test(name, default)
    if isinstance(out, str):
        ls.window_show_message(t.ShowMessageParams(type=t.MessageType.Error, message=f'test "{name}": {out}'))
        return {"name": name, "passed": False, "failures": [out], "error": True}
    ls.results[(uri, name)] = out.passed
    r = out.result
    if out.passed:
        msg = f'PASS  test "{name}"'
    else:
        msg = f'FAIL  test "{name}": ' + "; ".join(out.failures)
    if r is not None:
        msg += f" (grade {r.grade}, route {r.route}" + (f' "{r.queue}"' if r.queue else "") + f", as of {out.as_of})"
    ls.window_show_message(t.ShowMessageParams(type=t.MessageType.Info if out.passed else t.MessageType.Error,
                                               message=msg))
    return {"name": name, "passed": out.passed, "failures": out.failures, "as_of": out.as_of, "error": False,
            "grade": r.grade if r else None, "route": r.route if r else None, "queue": r.queue if r else None,
            "scores": r.scores if r else {}, "fired": out.fired}


@server.command(RUN_TESTS)
def run_tests_command(ls: LeadrulesServer, *args):
    """Run every test of the open document: arguments [uri] and optionally an as-of date."""
    uri = str(args[0])
    as_of = str(args[1]) if len(args) > 1 and args[1] else None
    rd = _doc(ls, uri)
    if rd is None:
        return {"passed": 0, "failed": 0, "tests": [], "error": "not a leadrules file"}
    default = dt.date.fromisoformat(as_of) if as_of else None
    outs = []
    for test in rd.tests():
        out = rd.run_test(test.name, default)
        if isinstance(out, str):
            ls.window_show_message(t.ShowMessageParams(type=t.MessageType.Error, message=f"tests not run: {out}"))
            return {"passed": 0, "failed": 0, "tests": [], "error": out}
        ls.results[(uri, test.name)] = out.passed
        outs.append(out)
    failed = [o for o in outs if not o.passed]
    msg = f"{len(outs) - len(failed)} passed, {len(failed)} failed"
    if failed:
        msg += ": " + "; ".join(f'"{o.name}": {", ".join(o.failures)}' for o in failed)
    ls.window_show_message(t.ShowMessageParams(type=t.MessageType.Error if failed else t.MessageType.Info,
                                               message=msg))
    return {"passed": len(outs) - len(failed), "failed": len(failed), "error": None,
            "tests": [{"name": o.name, "passed": o.passed, "failures": o.failures} for o in outs]}


def main() -> None:
    server.start_io()
if __name__ == "__main__":
    main()
