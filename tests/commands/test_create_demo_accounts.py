from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command


@pytest.mark.django_db
def test_demo_accounts_are_created_once_per_role_and_printed(settings, tmp_path):
    settings.EMBEDDED_PGDATA = tmp_path
    out = io.StringIO()
    call_command("create_demo_accounts", stdout=out)
    call_command("create_demo_accounts", stdout=io.StringIO())  # idempotent
    lines = {line.split()[0]: line.split()[2] for line in out.getvalue().splitlines()[1:]}
    assert set(lines) == {"support", "operator", "dba", "admin"}
    dba = authenticate(username="dba", password=lines["dba"])
    assert dba is not None and dba.has_perm("schemaadmin.run_explain") and not dba.is_superuser
    support = authenticate(username="support", password=lines["support"])
    assert support is not None and not support.has_perm("schemaadmin.view_health")
    assert authenticate(username="admin", password=lines["admin"]).is_superuser


@pytest.mark.django_db
def test_demo_accounts_are_refused_when_database_url_is_set(settings):
    settings.EMBEDDED_PGDATA = None
    with pytest.raises(CommandError, match="only made on the embedded demo database"):
        call_command("create_demo_accounts")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "written, said",
    [
        (
            '{"support": "s3cret-kept", "operator": null, "dba": "", "admin": 7}',
            "no usable password for admin, dba, operator",
        ),
        ("{not json", "could not be read"),
        ('["a", "list"]', "not a JSON object"),
    ],
)
def test_a_passwords_file_edited_into_something_else_is_mended_and_every_account_can_sign_in(
    settings, tmp_path, written, said
):
    """It used to set some passwords, then stop on a traceback, leaving an account whose password was null."""
    settings.EMBEDDED_PGDATA = tmp_path
    (tmp_path / "demo-accounts.json").write_text(written)
    out, err = io.StringIO(), io.StringIO()
    call_command("create_demo_accounts", stdout=out, stderr=err)
    assert said in err.getvalue()
    printed = {line.split()[0]: line.split()[2] for line in out.getvalue().splitlines()[1:]}
    for username, password in printed.items():
        assert authenticate(username=username, password=password) is not None, username
    if "s3cret-kept" in written:
        assert printed["support"] == "s3cret-kept"  # what was usable is kept
