"""Every field's help text is the one its aria-describedby names: screen readers read it with the field."""

from __future__ import annotations

import re

import pytest

PAGES = ["/conversations/", "/explain/", "/rebuilds/new", "/queries/", "/indexes/", "/tables/", "/findings/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_each_field_s_description_is_on_the_page(client_as, url):
    page = client_as("dba").get(url).content.decode()
    described = {name for value in re.findall(r'aria-describedby="([^"]+)"', page) for name in value.split()}
    present = set(re.findall(r'\sid="([^"]+)"', page))
    assert described, f"{url} has no described field: the test would prove nothing"
    assert described <= present, f"{url}: aria-describedby names {sorted(described - present)}, which are not there"
