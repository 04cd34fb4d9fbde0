// The leadrules extension: starts `leadrules lsp` (the language server: diagnostics, formatting,
// hover, completion, go to definition, outline, and a "Run test" code lens on each test block) and
// gives `.rules` files the leadrules language only when their first statement is `ruleset "…"`, so
// udev and Firebase rule files keep theirs.
'use strict';

const { isLeadrulesText } = require('./detect');

// Languages other extensions give `.rules` files; a file that is not ours goes back to one of them.
const OTHER_RULES_LANGUAGES = ['firestorerules', 'firebase-rules', 'firestore', 'udev', 'udevrules'];

let client;

function head(document) {
  const last = Math.min(document.lineCount, 400);
  return document.getText(new (require('vscode').Range)(0, 0, last, 0));
}

async function classify(vscode, document) {
  if (!document.fileName.endsWith('.rules')) return;
  const ours = isLeadrulesText(head(document));
  if (ours && document.languageId !== 'leadrules') {
    await vscode.languages.setTextDocumentLanguage(document, 'leadrules');
  } else if (!ours && document.languageId === 'leadrules') {
    const known = await vscode.languages.getLanguages();
    const other = OTHER_RULES_LANGUAGES.find((id) => known.includes(id)) || 'plaintext';
    await vscode.languages.setTextDocumentLanguage(document, other);
  }
}

async function activate(context) {
  const vscode = require('vscode');
  const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

  for (const doc of vscode.workspace.textDocuments) await classify(vscode, doc);
  context.subscriptions.push(vscode.workspace.onDidOpenTextDocument((doc) => classify(vscode, doc)));

  const config = vscode.workspace.getConfiguration('leadrules');
  const command = config.get('server.command', 'leadrules');
  const args = config.get('server.args', ['lsp']);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'leadrules' },
      { scheme: 'untitled', language: 'leadrules' },
    ],
  };
  client = new LanguageClient('leadrules', 'leadrules', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `leadrules: could not start "${command} ${args.join(' ')}" (${err.message}). ` +
      "Install it with: pip install 'leadrules[lsp]'");
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
