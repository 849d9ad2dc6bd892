"""How text wraps in Chromium: the words cut across two lines, and whether a table fits its box."""

from __future__ import annotations

from playwright.sync_api import Page

__all__ = ["FITS_ITS_BOX", "cut_words"]

# Whether the element is no wider than the box it scrolls in (schemaadmin.js wraps wide tables in one).
FITS_ITS_BOX = """(selector) => {
  const element = document.querySelector(selector);
  const box = element.closest(".table-responsive") || element.parentElement;
  return box.scrollWidth <= box.clientWidth;
}"""

# The words of the selected elements cut across two lines: a line that begins inside a text node where neither the
# character before nor the one after is a space, nor the one before a hyphen or a dash (where text may wrap). Breaks
# at <wbr> (after ".", "_" or "::", the ident and expression filters) fall between text nodes.
_CUT_WORDS = """(selector) => {
  const cut = [];
  const range = document.createRange();
  for (const element of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      let above = null;  // the box of the last character drawn
      for (let i = 0; i < node.data.length; i++) {
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = range.getBoundingClientRect();
        if (!rect.width) continue;  // a hidden element, or a space collapsed at a line's end
        const between = node.data.slice(i - 1, i + 1);
        if (above && rect.top >= above.bottom && !/\\s/.test(between) && !/^[-\u2013\u2014]/.test(between)) {
          cut.push(node.data.slice(0, i) + "|" + node.data.slice(i));
        }
        above = rect;
      }
    }
  }
  return cut;
}"""


def cut_words(page: Page, selector: str) -> list[str]:
    """Return the words in the elements selector matches that the page cuts across two lines, each marked "|"."""
    return page.evaluate(_CUT_WORDS, selector)
