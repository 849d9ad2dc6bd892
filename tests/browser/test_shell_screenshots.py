"""Screenshots of the page shell: the overview and a finished rebuild at 1440 px, 360 px and in the dark scheme."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from schemaadmin.models import IndexRebuild

pytestmark = pytest.mark.browser

PREFIX = os.environ.get("SHELL_SHOTS_PREFIX", "shell")
VARIANTS = {"desktop": (1440, 900, "light"), "phone": (360, 780, "light"), "dark": (1440, 900, "dark")}


def finished_rebuild() -> IndexRebuild:
    # A coherent story for the screenshots: requested, started a second later, the build, then the swap at the end.
    ended = timezone.now() - timedelta(minutes=3)
    started = ended - timedelta(seconds=754)
    stamp, swapped = started.strftime("%H:%M:%S"), ended.strftime("%H:%M:%S")
    rebuild = IndexRebuild.objects.create(
        schema_name="public",
        index_name="knowledge_base_chunks_embedding_hnsw_with_a_long_name",
        table_name="knowledge_base_chunks",
        method="hnsw",
        kind="replace",
        parameters={"m": 16, "ef_construction": 64},
        settings_used={"maintenance_work_mem": "2GB"},
        state="succeeded",
        started_at=started,
        finished_at=ended,
        size_before_bytes=412_000_000,
        size_after_bytes=398_000_000,
        progress={"phase": "building index: loading tuples", "percent": 100.0, "blocks_done": 50123},
        log=(
            f"{stamp} build connection open, pid 4242\n"
            f"{stamp} CREATE INDEX CONCURRENTLY knowledge_base_chunks_embedding_hnsw_ccnew"
            " ON public.knowledge_base_chunks USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops)\n"
            f"{swapped} swapped in\n"
        ),
    )
    IndexRebuild.objects.filter(pk=rebuild.pk).update(created_at=started - timedelta(seconds=1))
    rebuild.refresh_from_db()
    return rebuild


def test_shell_screenshots(page, role_user, sign_in, screenshot):
    role_user("dba", "dee")
    rebuild = finished_rebuild()
    sign_in("dee")
    for variant, (width, height, scheme) in VARIANTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.emulate_media(color_scheme=scheme)
        for name, url in (("overview", "/"), ("rebuild", f"/rebuilds/{rebuild.pk}/")):
            page.goto(url)
            page.wait_for_load_state("networkidle")
            screenshot(f"{PREFIX}-{name}-{variant}")
