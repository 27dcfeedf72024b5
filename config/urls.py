from django.contrib import admin
from django.urls import path

from posting import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.dashboard, name="dashboard"),
    path("dashboard/", views.dashboard),
    path("dashboard/data.json", views.dashboard_json, name="dashboard-data"),
    path("dashboard/pause", views.set_paused, name="dashboard-pause"),
    path("favicon.ico", views.favicon),
    path("favicon.svg", views.favicon, name="favicon"),
    path("evidence/<int:pk>/<str:kind>", views.attempt_evidence, name="attempt-evidence"),
    path(
        "flow-trials/<int:pk>/<int:step>/<str:kind>",
        views.flow_trial_file,
        name="flow-trial-file",
    ),
]
