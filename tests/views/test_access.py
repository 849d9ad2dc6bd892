"""The role matrix: every URL, every role, the answer each gets."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from schemaadmin.audit import record
from schemaadmin.models import AuditEvent, ChatUser, Conversation, ExplainRun, IndexRebuild, MigrationApply
from tests.blocking import audit_unwritable

# url -> expected status for (anonymous, no role, support, operator, dba, superuser).
# 302 for anonymous means "redirected to the login page". {placeholders} are filled by the `objects` fixture.
READERS = (302, 403, 200, 200, 200, 200)
MATRIX: dict[str, tuple[int, int, int, int, int, int]] = {
    "/": (302, 403, 200, 200, 200, 200),
    "/healthz": (200, 200, 200, 200, 200, 200),
    "/favicon.ico": (301, 301, 301, 301, 301, 301),
    "/accounts/login/": (200, 200, 200, 200, 200, 200),
    "/admin/": (302, 302, 302, 302, 302, 200),
    "/findings/": (302, 403, 403, 200, 200, 200),
    "/indexes/": (302, 403, 403, 200, 200, 200),
    "/indexes/{index}/": (302, 403, 403, 200, 200, 200),
    # POST only (405 to a GET once allowed); POSTs are tested in tests/views/test_recall.py.
    "/indexes/{index}/recall": (302, 403, 403, 403, 405, 405),
    "/recall/{recall_check}/": (302, 403, 403, 200, 200, 200),
    "/tables/": (302, 403, 403, 200, 200, 200),
    "/tables/{table}/": (302, 403, 403, 200, 200, 200),
    "/conversations/": READERS,
    "/conversations/{conversation}/": READERS,
    "/conversations/{conversation}/export.json": READERS,
    "/conversations/{conversation}/export.md": READERS,
    "/users/": READERS,
    "/users/{user}/": READERS,
    "/audit/": (302, 403, 403, 403, 200, 200),
    "/activity/": (302, 403, 403, 200, 200, 200),
    # GET asks for confirmation (400 here: no pid named); POSTs are tested in tests/views/test_activity.py.
    "/activity/cancel": (302, 403, 403, 403, 400, 400),
    "/activity/terminate": (302, 403, 403, 403, 400, 400),
    # GET shows the console; POST (runs) is tested in tests/views/test_explain.py.
    "/explain/": (302, 403, 403, 403, 200, 200),
    "/explain/{explain_run}/": (302, 403, 403, 403, 200, 200),
    "/explain/compare/": (302, 403, 403, 403, 200, 200),  # no runs named: the form to name them
    "/schema/": (302, 403, 403, 200, 200, 200),
    "/schema/migrations/{app}/{migration}/": (302, 403, 403, 200, 200, 200),
    "/schema/tables/": (302, 403, 403, 200, 200, 200),
    "/schema/tables/diagram/": (302, 403, 403, 200, 200, 200),
    "/schema/drift/": (302, 403, 403, 200, 200, 200),  # the page; its findings come with ?compute=1
    # GET shows the plan for confirmation; POST (queues the apply) is tested in tests/views/test_schema_apply.py.
    "/schema/apply/": (302, 403, 403, 403, 200, 200),
    "/schema/applies/": (302, 403, 403, 200, 200, 200),
    "/schema/applies/{migration_apply}/": (302, 403, 403, 200, 200, 200),
    # POST only (405 to a GET once allowed); POSTs are tested in tests/views/test_schema_archive.py.
    "/schema/archives/drop": (302, 403, 403, 403, 405, 405),
    "/rebuilds/": (302, 403, 403, 200, 200, 200),
    "/rebuilds/new": (302, 403, 403, 403, 200, 200),
    "/rebuilds/{rebuild}/": (302, 403, 403, 200, 200, 200),
    # POST only (405 to a GET once allowed); POSTs are tested in tests/views/test_rebuilds.py.
    "/rebuilds/{rebuild}/cancel": (302, 403, 403, 403, 405, 405),
    "/rebuilds/{rebuild}/retry": (302, 403, 403, 403, 405, 405),
    "/queries/": (302, 403, 403, 200, 200, 200),
    "/queries/regressions/": (302, 403, 403, 200, 200, 200),
    "/queries/{queryid}/": (302, 403, 403, 200, 200, 200),
}


@pytest.fixture
def objects(db) -> dict[str, str]:
    """Create what the detail URLs point at; return the placeholder values."""
    from schemaadmin.models import QueryText, RecallCheck

    now = datetime(2026, 1, 1, tzinfo=UTC)
    user = ChatUser.objects.create(external_id="acct-matrix")
    conversation = Conversation.objects.create(user=user, created_at=now, updated_at=now)
    return {
        "conversation": str(conversation.pk),
        "user": str(user.pk),
        "index": "public.users_pkey",
        "app": "schemaadmin",
        "migration": "0002_roles",
        "table": "public.users",
        "recall_check": str(RecallCheck.objects.create(index_name="users_pkey", state="failed").pk),
        "explain_run": str(ExplainRun.objects.create(sql="SELECT 1", outcome="refused").pk),
        "rebuild": str(IndexRebuild.objects.create(index_name="users_pkey", state="failed").pk),
        "migration_apply": str(MigrationApply.objects.create(plan=["schemaadmin.0001_initial"], state="failed").pk),
        "queryid": str(QueryText.objects.create(queryid=-42, query="SELECT $1", first_seen=now).pk),
    }


def _placeholders(path: str) -> str:
    return re.sub(r"<[^>]+>|\{[a-z_]+\}", "<>", path)


ROLES = (None, "support", "operator", "dba", "superuser")


def _all_routes(resolver=None, prefix="") -> list[str]:
    resolver = resolver or get_resolver()
    routes = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                routes.append(prefix + str(pattern.pattern))
                continue
            routes.extend(_all_routes(pattern, prefix + str(pattern.pattern)))
        elif isinstance(pattern, URLPattern):
            routes.append(prefix + str(pattern.pattern))
    return routes


def test_the_matrix_covers_every_url():
    # Logout is POST-only and covered below; every other route must have a row.
    routes = {_placeholders("/" + r) for r in _all_routes()} - {"/accounts/logout/"}
    assert routes == {_placeholders(url) for url in MATRIX}, "add new pages to the access matrix"


@pytest.mark.django_db
@pytest.mark.parametrize("url", list(MATRIX))
def test_anonymous(client, objects, url):
    response = client.get(url.format(**objects))
    assert response.status_code == MATRIX[url][0]
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/") or response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("role_index,role", list(enumerate(ROLES, start=1)))
@pytest.mark.parametrize("url", list(MATRIX))
def test_signed_in(client, role_user, objects, url, role_index, role):
    user = role_user(role)
    client.force_login(user)
    path = url.format(**objects)
    response = client.get(path)
    assert response.status_code == MATRIX[url][role_index], (url, role)
    denied = AuditEvent.objects.filter(action="access.denied")
    # Django's admin refuses a signed-in account without staff status by sending it to its own sign-in page.
    admin_refused = response.status_code == 302 and response["Location"].startswith("/admin/login/")
    if response.status_code == 403 or admin_refused:
        assert admin_refused or b"You do not have access to this page" in response.content
        # Who was refused what is in the audit log: the path asked for, and the right it needs.
        event = denied.get()
        assert (event.actor, event.target, event.detail["method"]) == (user, path, "GET")
    else:
        assert not denied.exists()


@pytest.mark.django_db
def test_user_without_a_role_is_told_what_to_ask_for(client_as):
    response = client_as(None).get("/")
    assert response.status_code == 403
    assert b"support, operator or dba" in response.content
    assert AuditEvent.objects.get(action="access.denied").detail == {"permission": "any role", "method": "GET"}


@pytest.mark.django_db
def test_navigation_shows_only_what_the_role_may_open(client_as):
    support_page = client_as("support").get("/").content.decode()
    assert 'href="/admin/"' not in support_page
    assert 'href="/admin/"' in client_as("superuser").get("/").content.decode()


@pytest.mark.django_db
def test_the_menu_marks_the_section_of_a_page_under_one_of_its_entries(client_as):
    """A thread, a drift check or the rebuild form marked no entry: the menu said nowhere where one was."""

    dba = client_as("dba")

    def current(path: str) -> list[tuple[str, str]]:
        page = dba.get(path).content.decode()
        start = page.index('aria-label="Main"')
        nav = page[start : page.index("</nav>", start)]
        return re.findall(r'class="[^"]*active" href="([^"]+)"[^>]*aria-current="(page|true)"', nav)

    assert current("/indexes/") == [("/indexes/", "page")]
    assert current("/schema/drift/") == [("/schema/", "true")]
    assert current("/rebuilds/new") == [("/rebuilds/", "true")]
    assert current("/explain/compare/") == [("/explain/", "true")]
    assert current("/queries/regressions/") == [("/queries/", "true")]
    assert current("/") == [("/", "page")]  # the overview's "/" starts every path, and marks its own page alone


def test_logout_is_post_only_and_signs_out(client_as):
    client = client_as("dba")
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_no_one_deletes_or_edits_audit_events_in_the_admin_and_its_search_uses_the_indexes(client_as):
    root = client_as("superuser")
    record(None, "index.rebuild", "public.idx_a", as_username="ada")
    record(None, "index.rebuild", "public.other", as_username="adam")
    event = AuditEvent.objects.get(target="public.idx_a")
    assert root.get(f"/admin/schemaadmin/auditevent/{event.pk}/delete/").status_code == 403
    assert root.post("/admin/schemaadmin/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk]})
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    # Who exactly, and the start of a target: what audit_who_at_id and audit_target_prefix answer.
    listed = root.get("/admin/schemaadmin/auditevent/", {"q": "ada"}).context["cl"].result_list
    assert [e.actor_username for e in listed] == ["ada"]
    listed = root.get("/admin/schemaadmin/auditevent/", {"q": "public.o"}).context["cl"].result_list
    assert [e.target for e in listed] == ["public.other"]


@pytest.mark.django_db
def test_a_refused_path_with_a_nul_in_it_is_audited_with_the_nul_replaced(client_as):
    # PostgreSQL's text holds no NUL: the event of /queries/%00/ refused to support staff was not written.
    response = client_as("support").get("/queries/%00/")
    assert response.status_code == 403
    assert AuditEvent.objects.get(action="access.denied").target == "/queries/\ufffd/"


@pytest.mark.django_db(transaction=True)  # the lock is taken by another session, which sees only committed tables
def test_a_refusal_is_still_a_403_when_its_audit_event_cannot_be_written(client_as, settings, caplog):
    client = client_as("support")
    # Another session holds the audit table: the refusal's insert gives up after the web's lock_timeout.
    with audit_unwritable(settings, caplog, "schemaadmin.permissions"):
        response = client.get("/audit/")
    assert response.status_code == 403
    assert b"You do not have access to this page" in response.content
    assert "Could not audit access.denied of /audit/" in caplog.text
    assert not AuditEvent.objects.filter(action="access.denied").exists()
