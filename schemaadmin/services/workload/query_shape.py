"""A statement's shape: its text with every literal value replaced, for those who may not read the values.

pg_stat_activity shows statements as clients sent them, with the values users typed (emails, names, message
text). The shape keeps keywords, names, operators and $n parameters and writes ? for each string, number and
bit-string constant; comments are dropped, since they can hold anything. The scanner (pglast, PostgreSQL's own)
works on text cut short too: from an unterminated quote or comment on, nothing is shown.
"""

from __future__ import annotations

from pglast.parser import ParseError, scan

__all__ = ["query_shape"]

_LITERALS = frozenset({"SCONST", "USCONST", "BCONST", "XCONST", "ICONST", "FCONST"})
_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})
_CUT = " …"


def query_shape(text: str) -> str:
    """Return text with each literal replaced by ? and comments dropped; what cannot be scanned is cut off."""
    try:
        tokens, cut = list(scan(text)), False
    except ParseError as error:
        # An unterminated string, identifier or comment (a statement cut short): keep only what precedes it.
        location = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else 0
        text = text[: max(0, min(location, len(text)))]
        try:
            tokens = list(scan(text))
        except ParseError:
            tokens, text = [], ""
        cut = True
    pieces: list[str] = []
    position = 0
    for token in tokens:
        # Token offsets are character offsets, end inclusive.
        between = text[position : token.start]
        pieces.append(between if not between or between.isspace() else " ")
        if token.name in _LITERALS:
            pieces.append("?")
        elif token.name not in _COMMENTS:
            pieces.append(text[token.start : token.end + 1])
        position = token.end + 1
    shaped = "".join(pieces).strip()
    return f"{shaped}{_CUT}" if cut else shaped
