"""The baseline bench/conversations.py measures: Django admin's stock changelist (a default ModelAdmin) over the
conversation and message tables, on an AdminSite of its own at /stock-admin/.

Used only as the benchmark process's ROOT_URLCONF (config.urls plus this site): the product's /admin/ shows the chat
tables read-only and audited (schemaadmin/admin_chat.py), and no URL the product serves reaches this site.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite, ModelAdmin
from django.urls import path

from config import urls as product_urls
from schemaadmin.models import Conversation, Message

__all__ = ["PREFIX", "handler400", "site", "urlpatterns"]

PREFIX = "/stock-admin/"

site = AdminSite(name="stock_admin")
# The admin as these tables had it before /admin/ became read-only: the default changelist (it counts every row,
# twice a page, and pages by OFFSET) with a search of the text (LIKE '%…%' over every row).
site.register(Conversation, ModelAdmin, search_fields=["title"])
site.register(Message, ModelAdmin, search_fields=["content"])

urlpatterns = [path(PREFIX.lstrip("/"), site.urls), *product_urls.urlpatterns]
handler400 = product_urls.handler400
