// The EXPLAIN console's SQL editor: CodeMirror 6 over the form's <textarea>, which stays the form field (the
// page works without this bundle). Bundled by `npm run build` (esbuild) into node_modules/.schemaadmin-build/.
import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { Compartment } from "@codemirror/state";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { sql, PostgreSQL } from "@codemirror/lang-sql";

// The page's policy refuses <style> elements; inside a shadow root CodeMirror's styles go into constructed style
// sheets instead (adoptedStyleSheets), which the policy does not govern.
const layout = EditorView.theme({
  "&": { fontSize: "0.875rem" },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { fontFamily: "var(--bs-font-monospace, monospace)", minHeight: "14rem", maxHeight: "60vh" },
});

// The page's two colour schemes (theme.js sets data-bs-theme). Light keeps CodeMirror's default highlighting;
// dark has its own, every colour at least 4.5:1 on the editor's background and on its active line.
const light = EditorView.theme({
  "&": { backgroundColor: "#fff", color: "#212529" },
  ".cm-gutters": { backgroundColor: "#f8f9fa", color: "#495057" },
});
const darkColours = EditorView.theme(
  {
    "&": { backgroundColor: "#212529", color: "#dee2e6" },
    ".cm-content": { caretColor: "#f8f9fa" },
    ".cm-cursor, .cm-dropCursor": { borderLeftColor: "#f8f9fa" },
    ".cm-gutters": { backgroundColor: "#2b3035", color: "#adb5bd", borderRight: "1px solid #495057" },
    ".cm-activeLine": { backgroundColor: "#2c3137" },
    ".cm-activeLineGutter": { backgroundColor: "#343a40" },
    "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground": {
      backgroundColor: "#3d4f6b",
    },
    ".cm-tooltip": { backgroundColor: "#2b3035", color: "#dee2e6", border: "1px solid #495057" },
  },
  { dark: true },
);
const darkHighlighting = HighlightStyle.define([
  { tag: [tags.keyword, tags.operatorKeyword, tags.modifier], color: "#ff7b72" },
  { tag: [tags.string, tags.special(tags.string)], color: "#a5d6ff" },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: "#79c0ff" },
  { tag: [tags.comment, tags.lineComment, tags.blockComment], color: "#a7afba", fontStyle: "italic" },
  { tag: [tags.typeName, tags.standard(tags.name)], color: "#ffa657" },
  { tag: [tags.function(tags.variableName), tags.special(tags.name)], color: "#d2a8ff" },
  { tag: tags.invalid, color: "#ffa198" },
]);
const dark = [darkColours, syntaxHighlighting(darkHighlighting)];

function scheme() {
  return document.documentElement.getAttribute("data-bs-theme") === "dark" ? dark : light;
}

function attach(textarea) {
  const form = textarea.form;
  const run = () => {
    if (form) form.requestSubmit();
    return true;
  };
  const host = document.createElement("div");
  host.className = "sql-editor-cm";
  host.dataset.testid = "sql-editor";
  textarea.after(host);
  const root = host.attachShadow({ mode: "open" });
  const colours = new Compartment();
  const view = new EditorView({
    doc: textarea.value,
    parent: root,
    root,
    extensions: [
      layout,
      colours.of(scheme()),
      // Ctrl+Enter and Cmd+Enter on every platform, ahead of basicSetup's Mod-Enter (insert blank line).
      keymap.of([{ key: "Ctrl-Enter", run }, { key: "Meta-Enter", run }]),
      basicSetup,
      sql({ dialect: PostgreSQL }),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({
        "aria-label": textarea.getAttribute("aria-label") || "Query",
        ...(textarea.required ? { "aria-required": "true" } : {}),
      }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) textarea.value = update.state.doc.toString();
      }),
    ],
  });
  textarea.hidden = true;
  // A hidden field the browser must refuse cannot show why (it is not focusable): an empty query goes to the
  // server, which answers with the form's own message.
  textarea.required = false;
  host.dataset.scheme = document.documentElement.getAttribute("data-bs-theme") || "light";
  // The toggle, or the system's scheme changing, recolours the editor without a reload.
  document.addEventListener("schemaadmin:theme", () => {
    view.dispatch({ effects: colours.reconfigure(scheme()) });
    host.dataset.scheme = document.documentElement.getAttribute("data-bs-theme") || "light";
  });
  view.dom.addEventListener("focusin", () => host.classList.add("focused"));
  view.dom.addEventListener("focusout", () => host.classList.remove("focused"));
  // Presets and permalinks set the textarea's value, then say so: the editor follows.
  textarea.addEventListener("sql:set", () => {
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: textarea.value } });
  });
  // A label's click focuses the editor.
  if (textarea.id) {
    document.querySelectorAll(`label[for="${textarea.id}"]`).forEach((label) => {
      label.addEventListener("click", () => view.focus());
    });
  }
  textarea.dataset.editor = "codemirror";
}

document.querySelectorAll("textarea.sql-editor").forEach(attach);
