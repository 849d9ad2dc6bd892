"""Only the npm files our pages load are served and collected, with their source maps."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles import finders


def test_listed_vendor_files_are_found_and_nothing_else_of_their_packages():
    for path in settings.VENDOR_FILES:
        assert finders.find(path), path
    assert finders.find("vendor/bootstrap/css/bootstrap.min.css.map")  # its sourceMappingURL must resolve
    assert not finders.find("vendor/mermaid/mermaid.esm.min.mjs")
    assert not finders.find("vendor/bootstrap/js/bootstrap.bundle.js")


def test_collected_vendor_files_are_the_listed_ones_and_their_maps():
    finder = finders.get_finder("schemaadmin.staticfinders.VendorFilesFinder")
    collected = {f"{storage.prefix}/{name}" for name, storage in finder.list([])}
    assert set(settings.VENDOR_FILES) <= collected
    served = {**settings.VENDOR_FILES, **settings.BUILT_FILES}
    assert all(path in served or path.removesuffix(".map") in served for path in collected)


def test_the_console_leaves_out_an_editor_bundle_not_built(client_as, settings):
    """Without `npm run build` the console keeps its plain textarea (Ctrl+Enter still runs) and loads no 404."""
    dba = client_as("dba")
    assert "vendor/sql-editor/sql-editor.js" in dba.get("/explain/").content.decode()
    settings.BUILT_FILES = {"vendor/sql-editor/sql-editor.js": ".schemaadmin-build/not-built.js"}
    page = dba.get("/explain/").content.decode()
    assert "sql-editor.js" not in page and 'name="sql"' in page
