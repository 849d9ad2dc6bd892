"""The live schema on a phone: a table's constraint and index names wrap after "." or "_", its words never mid-word."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.wrapping import cut_words

pytestmark = pytest.mark.browser

# What a table's card writes names in: its heading, columns, constraints, foreign keys, indexes and triggers.
NAMES = (
    "[data-testid=schema-table] h4, [data-testid=columns] td, [data-testid=constraints], [data-testid=foreign-keys], "
    "[data-testid=indexes], [data-testid=triggers]"
)


@pytest.mark.parametrize("table", ["public.conversation_messages", "public.knowledge_base_chunks"])
def test_a_table_s_names_wrap_between_words_on_a_phone(page, role_user, sign_in, console_errors, screenshot, table):
    """Constraint names broke mid-word at 360 px ("conversation_messages_content_leng|th")."""
    role_user("operator", "olga")
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"/schema/tables/?table={table}")
    sign_in("olga")
    card = page.locator(f'[data-testid=schema-table][data-table="{table}"]')
    expect(card.get_by_test_id("constraints")).to_be_visible()  # one table asked for: its card is open
    screenshot(f"schema-live-{table}-phone")
    assert cut_words(page, NAMES) == []
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert console_errors == []
