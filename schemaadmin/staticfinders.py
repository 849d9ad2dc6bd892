"""Serve and collect only the files our pages load from npm packages, not whole dist folders.

Mermaid's dist alone is 84 MB in 1,179 files; pages load one of them. Each entry of settings.VENDOR_FILES maps
a static path to a file under node_modules; its source map, when the package ships one, comes along so
the hashed-names storage can rewrite the file's sourceMappingURL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error, Warning
from django.core.files.storage import FileSystemStorage

__all__ = ["VendorFilesFinder", "built_file_available"]


def built_file_available(static_path: str) -> bool:
    """Return whether a file of settings.BUILT_FILES has been built (pages leave out what is not there)."""
    built = getattr(settings, "BUILT_FILES", {}).get(static_path)
    return built is not None and (Path(settings.BASE_DIR) / "node_modules" / built).exists()


class VendorFilesFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        root = Path(settings.BASE_DIR) / "node_modules"
        self.files: dict[str, Path] = {}
        self.built = {path: root / built for path, built in getattr(settings, "BUILT_FILES", {}).items()}
        for static_path, package_path in {**settings.VENDOR_FILES, **getattr(settings, "BUILT_FILES", {})}.items():
            source = root / package_path
            self.files[static_path] = source
            source_map = source.with_name(source.name + ".map")
            if source_map.exists():
                self.files[static_path + ".map"] = source_map

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        return [
            Error(f"{source} is missing: run `npm ci` (make setup does).", id="schemaadmin.E010")
            for path, source in self.files.items()
            if not path.endswith(".map") and not source.exists() and path not in self.built
        ] + [
            Warning(f"{source} is missing: run `npm run build` (make setup does).", id="schemaadmin.W014")
            for source in self.built.values()
            if not source.exists()
        ]

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:  # str, or list[str] with find_all
        source = self.files.get(path)
        if source is None or not source.exists():
            return []  # what Django's own finders answer for "not here"
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        for path, source in self.files.items():
            if source.exists():
                storage = FileSystemStorage(location=str(source.parent))
                storage.prefix = str(Path(path).parent)  # type: ignore[attr-defined]
                yield source.name, storage
