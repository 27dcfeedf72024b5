"""Every list of types, hold reasons, detector types, filters and dashboard segments derives
from the taxonomy in retries/, so adding a type there is the only edit it takes."""

import pytest
from django.contrib import admin

from devices.backends.flows import DETECTOR_TYPES
from posting.dashboard import SEGMENT_LABELS
from posting.models import AccountStatus, ErrorCategory, ErrorType, Job
from posting.models.choices import HOLD_STATUS_OF_TYPE
from retries.taxonomy import CATEGORY_OF_TYPE, types_of

ACCOUNT_TYPES = {str(t) for t, c in CATEGORY_OF_TYPE.items() if c == ErrorCategory.ACCOUNT}


def test_every_type_of_the_taxonomy_has_a_category_and_one_place_in_it():
    typed = {str(t) for t in ErrorType if t}
    assert typed == set(CATEGORY_OF_TYPE)
    assert sorted(str(t) for c in ErrorCategory for t in types_of(c)) == sorted(typed)


def test_account_statuses_and_hold_reasons_are_the_account_types():
    assert set(AccountStatus.values) == {"active"} | ACCOUNT_TYPES
    assert {str(t): str(s) for t, s in HOLD_STATUS_OF_TYPE.items()} == {t: t for t in ACCOUNT_TYPES}


def test_flow_detectors_recognise_exactly_the_account_types():
    assert set(DETECTOR_TYPES) == ACCOUNT_TYPES


def test_dashboard_segments_have_one_failed_segment_per_category():
    failed = {name.removeprefix("failed_") for name in SEGMENT_LABELS if name.startswith("failed_")}
    assert failed == {c.value for c in ErrorCategory if c.value}


@pytest.mark.django_db
def test_job_filters_offer_every_category_and_type(rf, admin_user):
    model_admin = admin.site._registry[Job]
    request = rf.get("/admin/posting/job/")
    request.user = admin_user
    changelist = model_admin.get_changelist_instance(request)
    offered = {}
    for spec in changelist.filter_specs:
        if getattr(spec, "field_path", None) in ("error_category", "error_type"):
            offered[spec.field_path] = {value for value, _ in spec.field.flatchoices}
    assert offered["error_type"] == {t.value for t in ErrorType}
    assert offered["error_category"] == {c.value for c in ErrorCategory}
