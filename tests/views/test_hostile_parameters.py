"""Every page a superuser can open, with each query parameter it reads set to hostile values: never a 5xx, never
the value written back unescaped.

The parameters are the ones the page itself asks request.GET for (recorded on a plain GET), so a new page or a new
filter is swept without being listed here.
"""

from __future__ import annotations

import pytest
from django.core import signing
from django.http import QueryDict
from django.test import Client

from schemaadmin.paging import _SALT
from schemaadmin.services.conversations import CONVERSATION_ORDERS, SEARCH_ORDER, THREAD_ORDER
from schemaadmin.views.audit import AUDIT_ORDERS
from schemaadmin.views.explain import EVERYONES_RUNS, OWN_RUNS
from schemaadmin.views.rebuilds import REBUILD_ORDER
from schemaadmin.views.schema_apply import APPLY_ORDER
from schemaadmin.views.users import USER_NAME_ORDER, USER_ORDER
from tests.views.test_access import MATRIX, objects  # noqa: F401 -- the fixture creating what detail URLs point at

SCRIPT = "<script>alert(1)</script>"
HOSTILE = (
    "",
    "-1",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "a\x00b",
    "'; DROP TABLE users;--",
    SCRIPT,
    "a" * 5000,
    "9" * 5000,  # more digits than int() reads (4,300)
    "9999-12-31T23:59:59",
    "%_\\",
    "😀" * 50,
    "-" * 40 + "x",  # more NOTs than websearch_to_tsquery() can nest ("tsquery stack too small")
)
PAGES = [url for url, statuses in MATRIX.items() if statuses[-1] == 200]

# Every listing's order, for cursors signed with the site's key but holding values of the wrong kinds: what a leaked
# key, or a page link of another listing, would bring. Each is refused as a 400, never a database error.
ORDERS = [
    *CONVERSATION_ORDERS.values(),
    SEARCH_ORDER,
    THREAD_ORDER,
    USER_ORDER,
    USER_NAME_ORDER,
    REBUILD_ORDER,
    APPLY_ORDER,
    OWN_RUNS,
    EVERYONES_RUNS,
    *AUDIT_ORDERS.values(),
]
WRONG_KINDS = (["x"], ["zz", 1], [{"u": "00000000-0000-0000-0000-000000000000"}, 1], [True, 1], [1.5, 1])


def _forged_cursors(direction: str) -> list[str]:
    return [
        signing.dumps({"o": order.name, "d": direction, "v": values, "n": 0}, salt=_SALT, compress=True)
        for order in ORDERS
        for values in WRONG_KINDS
    ]


def _parameters_read(client: Client, url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the query parameter names the page looks up in request.GET when opened without any."""
    asked: set[str] = set()
    originals = {name: getattr(QueryDict, name) for name in ("get", "__getitem__", "getlist", "__contains__")}

    def recording(name: str):
        def method(self: QueryDict, key: str, *args: object):
            asked.add(key)
            return originals[name](self, key, *args)

        return method

    with monkeypatch.context() as patch:
        for name in originals:
            patch.setattr(QueryDict, name, recording(name))
        client.get(url)
    return sorted(key for key in asked if isinstance(key, str))


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_hostile_parameters_never_fail_the_page(role_user, objects, monkeypatch, page):  # noqa: F811
    client = Client(raise_request_exception=False)
    client.force_login(role_user("superuser"))
    url = page.format(**objects)
    failures = []
    for name in _parameters_read(client, url, monkeypatch):
        forged = _forged_cursors(name) if name in ("after", "before") else []
        for value in (*HOSTILE, ["1", "2"], *forged):
            response = client.get(url, {name: value})
            if response.status_code >= 500:
                failures.append((name, repr(value)[:30], response.status_code))
            elif value == SCRIPT and SCRIPT.encode() in response.content:
                failures.append((name, "written back unescaped", response.status_code))
    assert not failures, f"{url}: {failures}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"sql": "x" * 3_000_000}, "The form sent more than 2.6 MB, the most this site takes; nothing was done."),
        ({f"f{i}": "1" for i in range(1_100)}, "The form sent more fields than this site takes; nothing was done."),
    ],
)
def test_a_form_over_django_s_size_limits_is_told_so_and_nothing_runs(client_as, data, says):
    """Django refuses it before the view (RequestDataTooBig, TooManyFieldsSent): the page said "A parameter in the
    address is malformed", about a POST."""
    from schemaadmin.models import ExplainRun

    response = client_as("dba").post("/explain/", data)
    page = response.content.decode()
    assert response.status_code == 400 and f'<p data-testid="reason">{says}</p>' in page
    assert "in the address" not in page and "x" * 100 not in page
    assert not ExplainRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_too_many_parameters_are_told_so_with_debug_on_as_make_run_serves(client_as, settings, debug):
    """With DEBUG (make run), Django's debug page read the parameters again to show them, raised again: a 500."""
    settings.DEBUG = debug
    support, dba = client_as("support"), client_as("dba")
    says = '<p data-testid="reason">The form sent more fields than this site takes; nothing was done.</p>'
    listed = support.get("/conversations/?" + "&".join(["user=a"] * 1_200))
    assert listed.status_code == 400 and says in listed.content.decode()
    posted = dba.post("/explain/", {f"f{i}": "1" for i in range(1_100)})
    assert posted.status_code == 400 and says in posted.content.decode()


@pytest.mark.django_db
def test_a_form_whose_csrf_token_went_stale_gets_the_site_s_page_saying_what_to_do(role_user):
    """Django's own page (unstyled under the site's CSP) told a person whose form went stale to re-enable cookies."""
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(role_user("dba", "dana"))
    response = checked.post("/explain/", {"sql": "SELECT 1", "csrfmiddlewaretoken": "stale"})
    page = response.content.decode()
    assert response.status_code == 403 and 'data-testid="csrf-failure"' in page
    assert "reload the page, and send the form again" in page and "Nothing was done." in page
    assert "cookies" not in page.lower()
    assert "Signed in as <strong>dana</strong>" in page  # the site's page, with its menu, as any other
