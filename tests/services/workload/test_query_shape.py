"""A statement's shape keeps its structure and drops every value, even when the text was cut short."""

from __future__ import annotations

import pytest

from schemaadmin.services.workload.query_shape import query_shape


@pytest.mark.parametrize(
    "text, shape",
    [
        ("SELECT * FROM users WHERE email = 'bob@example.com' LIMIT 5", "SELECT * FROM users WHERE email = ? LIMIT ?"),
        ("UPDATE t SET name = 'Zoë' WHERE id = $1 AND n = 1.5e3", "UPDATE t SET name = ? WHERE id = $1 AND n = ?"),
        ("SELECT E'it\\'s', x'FF', b'01', U&'d\\0061t\\+000061'", "SELECT ?, ?, ?, ?"),
        ("SELECT $$secret$$, $tag$also secret$tag$", "SELECT ?, ?"),
        ("SELECT 1 -- the card is 4111 1111\n, 2 /* 'pin' 1234 */", "SELECT ? \n, ?"),
        ('SELECT "Odd Name" FROM "My Table"', 'SELECT "Odd Name" FROM "My Table"'),
        ("INSERT INTO messages (body) VALUES ('hello, my password is hunt", "INSERT INTO messages (body) VALUES ( …"),
        ("SELECT /* never closed 'secret'", "SELECT …"),
        ("", ""),
    ],
)
def test_shape(text, shape):
    assert query_shape(text) == shape


@pytest.mark.parametrize("secret", ["bob@example.com", "hunter2", "4111"])
def test_no_value_survives(secret):
    text = f"SELECT * FROM t WHERE a = '{secret}' OR b = $q${secret}$q$ -- {secret}"  # noqa: S608
    assert secret not in query_shape(text)
