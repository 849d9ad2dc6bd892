"""Roles: the groups the data migration made and what each may do."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User

from schemaadmin.models.operations import PERMISSIONS
from schemaadmin.permissions import ROLES, OneQueryModelBackend


@pytest.mark.django_db
def test_each_role_group_holds_exactly_its_permissions():
    for role, codenames in ROLES.items():
        group = Group.objects.get(name=role)
        assert set(group.permissions.values_list("codename", flat=True)) == set(codenames)


def test_every_role_permission_is_declared():
    declared = {codename for codename, _ in PERMISSIONS}
    for codenames in ROLES.values():
        assert set(codenames) <= declared


@pytest.mark.django_db
def test_support_reads_conversations_only_and_dba_holds_everything(role_user):
    support, operator, dba = role_user("support"), role_user("operator"), role_user("dba")
    assert support.has_perm("schemaadmin.view_conversations")
    assert not support.has_perm("schemaadmin.view_health")
    assert operator.has_perm("schemaadmin.view_health") and not operator.has_perm("schemaadmin.run_explain")
    assert all(dba.has_perm(f"schemaadmin.{codename}") for codename, _ in PERMISSIONS)


@pytest.mark.django_db
def test_a_users_permissions_own_and_through_groups_are_read_in_one_query(role_user, django_assert_num_queries):
    support = role_user("support")
    support.user_permissions.add(Permission.objects.get(codename="view_health"))
    fresh = User.objects.get(pk=support.pk)  # no permissions cached yet
    with django_assert_num_queries(1):
        assert fresh.get_all_permissions() == {"schemaadmin.view_conversations", "schemaadmin.view_health"}
        assert fresh.has_perm("schemaadmin.view_health") and not fresh.has_perm("schemaadmin.run_explain")
    fresh.is_active = False
    assert not fresh.has_perm("schemaadmin.view_conversations")


@pytest.mark.django_db
def test_the_signed_in_user_is_read_with_its_permissions_in_one_query(role_user, django_assert_num_queries):
    support = role_user("support")
    support.user_permissions.add(Permission.objects.get(codename="view_health"))
    backend = OneQueryModelBackend()
    with django_assert_num_queries(1):
        user = backend.get_user(support.pk)
        assert user.get_all_permissions() == {"schemaadmin.view_conversations", "schemaadmin.view_health"}
        assert user.has_perm("schemaadmin.view_health") and not user.has_perm("schemaadmin.run_explain")
    nobody = User.objects.create_user("nobody")
    assert backend.get_user(nobody.pk).get_all_permissions() == set()
    superuser = User.objects.create_superuser("root", password="x" * 12)
    assert backend.get_user(superuser.pk).has_perm("schemaadmin.run_explain")
    support.is_active = False
    support.save()
    assert backend.get_user(support.pk) is None
    assert backend.get_user(10**9) is None
