"""services/schema/model_tables.py: the tables and schemas the models name, as drift excuses or compares them."""

from __future__ import annotations


def test_a_table_outside_migrations_is_keyed_by_its_schema_and_a_join_table_by_its_declaring_model():
    from django.apps import apps

    from schemaadmin.services.schema.model_tables import _schema_and_table, tables_outside_migrations

    assert _schema_and_table('"Other"."legacy ""t"""', "public") == ("Other", 'legacy "t"')
    assert _schema_and_table("legacy_t", "app") == ("app", "legacy_t")

    from django.db import models as m

    class Legacy(m.Model):  # noqa: DJ008
        tags = m.ManyToManyField("schema_fixtures.Widget", related_name="+")

        class Meta:
            app_label = "schema_fixtures"
            managed = False
            db_table = '"other"."legacy_t"'

    try:
        outside = tables_outside_migrations("public")
        assert "managed = False" in outside["other", "legacy_t"]
        assert ("public", "legacy_t") not in outside  # a namesake elsewhere is not excused
        # Django names the join table 'other"."legacy_t_tags', which it quotes as "other"."legacy_t_tags".
        join = Legacy._meta.get_field("tags").remote_field.through._meta.db_table
        assert join == 'other"."legacy_t_tags'
        assert outside["other", "legacy_t_tags"] == (
            "is the table of model schema_fixtures.Legacy, which has managed = False"
        )
    finally:
        del apps.all_models["schema_fixtures"]["legacy"]
        del apps.all_models["schema_fixtures"][Legacy._meta.get_field("tags").remote_field.through._meta.model_name]
        apps.clear_cache()
