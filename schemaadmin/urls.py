from django.urls import path

from schemaadmin.views import dashboard, health

app_name = "schemaadmin"

urlpatterns = [
    path("", dashboard.overview, name="overview"),
    path("healthz", health.healthz, name="healthz"),
]
