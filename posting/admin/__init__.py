"""The operator console: one module per model, shared display helpers and filters."""

from django.contrib import admin

from posting.admin import accounts, attempts, devices, jobs, passes, pauses  # noqa: F401

# At 1366 x 768 the lists need the width the navigation sidebar takes; the breadcrumbs and
# the home page lead everywhere it did.
admin.site.enable_nav_sidebar = False
