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
    assert all(
        path in settings.VENDOR_FILES or path.removesuffix(".map") in settings.VENDOR_FILES for path in collected
    )
