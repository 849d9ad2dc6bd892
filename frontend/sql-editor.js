// The EXPLAIN console's SQL editor: CodeMirror 6 over the form's <textarea>, which stays the form field (the
// page works without this bundle). Bundled by `npm run build` (esbuild) into node_modules/.schemaadmin-build/.
import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { sql, PostgreSQL } from "@codemirror/lang-sql";

// The page's policy refuses <style> elements; inside a shadow root CodeMirror's styles go into constructed style
// sheets instead (adoptedStyleSheets), which the policy does not govern.
const theme = EditorView.theme({
  // Light in both schemes: the highlight colours (CodeMirror's default style) are made for a light background.
  "&": { fontSize: "0.875rem", backgroundColor: "#fff", color: "#212529" },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { fontFamily: "var(--bs-font-monospace, monospace)", minHeight: "14rem", maxHeight: "60vh" },
  ".cm-gutters": { backgroundColor: "#f8f9fa", color: "#495057" },
});

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
  const view = new EditorView({
    doc: textarea.value,
    parent: root,
    root,
    extensions: [
      theme,
      // Ctrl+Enter and Cmd+Enter on every platform, ahead of basicSetup's Mod-Enter (insert blank line).
      keymap.of([{ key: "Ctrl-Enter", run }, { key: "Meta-Enter", run }]),
      basicSetup,
      sql({ dialect: PostgreSQL }),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ "aria-label": textarea.getAttribute("aria-label") || "Query" }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) textarea.value = update.state.doc.toString();
      }),
    ],
  });
  textarea.hidden = true;
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
