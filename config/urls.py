from django.contrib import admin
from django.urls import path

from posting.views import attempt_evidence

urlpatterns = [
    path("admin/", admin.site.urls),
    path("evidence/<int:pk>/<str:kind>", attempt_evidence, name="attempt-evidence"),
]
