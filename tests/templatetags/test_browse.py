"""Message bodies as HTML: code fences read as CommonMark reads them, everything escaped."""

from __future__ import annotations

import pytest

from schemaadmin.templatetags.browse import marked_body, message_body


def _text(text: str) -> str:
    return f'<div class="text">{text}</div>'


def _code(code: str, language: str = "") -> str:
    attribute = f' data-language="{language}"' if language else ""
    return f'<pre class="code"{attribute}><code>{code}</code></pre>'


@pytest.mark.parametrize(
    ("content", "html"),
    [
        # A run of backticks inside a sentence opens nothing: it was the rest of the sentence in a code block.
        ("Use ````` to open a fence", _text("Use ````` to open a fence")),
        ("Write ``` then the language", _text("Write ``` then the language")),
        # 500 backticks opened and closed 83 empty blocks and showed none of them. A fence that opens on nothing
        # but the end of the message is shown as written.
        ("`" * 500 + " fence", _text("`" * 500 + " fence")),
        # A ```` fence holds a ``` fence (LLM answers, our own Markdown export): the inner one is its code.
        (
            "Here is code:\n````\n```python\nx=1\n```\n````\nend",
            _text("Here is code:\n") + _code("```python\nx=1\n```") + _text("\nend"),
        ),
        # Only a line of backticks at least as long closes; a line with an info string closes nothing.
        ("````md\na\n```\nb\n```js\n`````\nafter", _code("a\n```\nb\n```js", "md") + _text("\nafter")),
        # Up to three spaces before a fence, taken off its code's lines as well; four are text.
        ("   ```sh\n   ls\n     -la\n   ```", _code("ls\n  -la", "sh")),
        ("    ```sh\n    ls", _text("    ```sh\n    ls")),
        # An unclosed fence runs to the end of the message, as before, and after text that mentions ``` inline.
        ("Say ``` and:\n```js\nalert(1)\n", _text("Say ``` and:\n") + _code("alert(1)", "js")),
        # The info string's first word is the language, whatever it holds: escaped into the attribute.
        (
            '```"><script>alert(1)</script> rest\n<b>x</b>\n```',
            _code("&lt;b&gt;x&lt;/b&gt;", "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        ),
    ],
    ids=[
        "inline-run",
        "inline-three",
        "500-backticks",
        "nested",
        "longer-closer",
        "indented",
        "four-spaces",
        "unclosed",
        "info-escaped",
    ],
)
def test_fences_open_and_close_only_on_lines_of_their_own(content, html):
    assert message_body(content) == html


def test_a_search_mark_in_an_info_string_marks_nothing_inside_the_attribute():
    # \x01 … \x02 are a search's marks: in the language they would put <mark> inside data-language="…".
    body = marked_body("```\x01python\x02 tips\nprint(\x01python\x02)\n```")
    assert body == _code("print(<mark>python</mark>)", "python")
