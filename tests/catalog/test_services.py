"""State transitions are race-safe and never mark an unchecked object good."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.models import StoredObject, Swath, SwathState
from tests.catalog.factories import box, collection

pytestmark = pytest.mark.django_db


def registered(granule: str = "A.nc") -> Swath:
    source = services.SourceInfo(path=f"/data/{granule}", granule_id=granule, size=10,
                                 mtime_ns=1)
    return services.register_swath(collection().pk, source, {"filename": granule,
                                                             "footprint": box(0, 0, 1, 1)})


def test_only_one_worker_gets_the_upload_lease() -> None:
    swath = registered()
    assert services.claim_upload(swath.pk, "worker-a", 60)
    assert not services.claim_upload(swath.pk, "worker-b", 60)
    swath.refresh_from_db()
    assert (swath.state, swath.lease_owner, swath.attempts) == ("UPLOADING", "worker-a", 1)


def test_an_expired_lease_can_be_taken_over_and_the_old_holder_cannot_finish() -> None:
    swath = registered()
    assert services.claim_upload(swath.pk, "worker-a", -1)  # already expired
    assert services.claim_upload(swath.pk, "worker-b", 60)
    obj = services.start_object(swath.pk, "primary", "swaths/x/1", "none")
    with pytest.raises(services.LeaseLost):
        services.mark_stored(swath.pk, "worker-a", obj.pk, size=10, sha256="a" * 64,
                             stored_size=10)
    assert Swath.objects.get(pk=swath.pk).state == "UPLOADING"


def test_taking_over_a_dead_upload_settles_the_object_row_it_left() -> None:
    swath = registered()
    assert services.claim_upload(swath.pk, "worker-a", -1)  # a died mid-upload
    dead = services.start_object(swath.pk, "primary", "swaths/x/a", "none")
    assert services.claim_upload(swath.pk, "worker-b", 60)
    assert StoredObject.objects.get(pk=dead.pk).state == "FAILED"


def test_a_worker_whose_lease_passed_on_cannot_fail_the_new_holders_upload() -> None:
    swath = registered()
    assert services.claim_upload(swath.pk, "worker-a", -1)  # a's lease has expired
    assert services.claim_upload(swath.pk, "worker-b", 60)
    a_obj = services.start_object(swath.pk, "primary", "swaths/x/a", "none")
    assert not services.mark_failed(swath.pk, "a lost its lease", a_obj.pk, owner="worker-a")
    row = Swath.objects.get(pk=swath.pk)
    assert (row.state, row.lease_owner, row.attempts) == ("UPLOADING", "worker-b", 2)
    assert StoredObject.objects.get(pk=a_obj.pk).state == "FAILED"  # a's own object
    b_obj = services.start_object(swath.pk, "primary", "swaths/x/b", "none")
    services.mark_stored(swath.pk, "worker-b", b_obj.pk, size=10, sha256="e" * 64,
                         stored_size=10)  # b goes on undisturbed
    assert services.mark_failed(swath.pk, "b's read-back failed", b_obj.pk, owner="worker-b")
    assert Swath.objects.get(pk=swath.pk).state == "FAILED"


def test_only_the_holder_of_a_live_lease_can_renew_it() -> None:
    swath = registered()
    assert services.claim_upload(swath.pk, "worker-a", 1)
    before = Swath.objects.get(pk=swath.pk).lease_until
    assert services.renew_lease(swath.pk, "worker-a", 600)
    assert Swath.objects.get(pk=swath.pk).lease_until > before
    assert not services.renew_lease(swath.pk, "worker-b", 600)
    assert not services.claim_upload(swath.pk, "worker-b", 60)  # renewed: still a's


def test_a_lease_cannot_be_renewed_once_the_upload_is_stored() -> None:
    swath = registered()
    assert services.claim_upload(swath.pk, "worker-a", 60)
    obj = services.start_object(swath.pk, "primary", "swaths/x/1", "none")
    services.mark_stored(swath.pk, "worker-a", obj.pk, size=10, sha256="b" * 64, stored_size=10)
    assert not services.renew_lease(swath.pk, "worker-a", 60)


def test_attempts_are_bounded() -> None:
    swath = registered()
    for _ in range(services.MAX_ATTEMPTS):
        assert services.claim_upload(swath.pk, "w", 60)
        services.mark_failed(swath.pk, "boom")
    assert not services.claim_upload(swath.pk, "w", 60)
    assert Swath.objects.get(pk=swath.pk).state == "FAILED"


def test_duplicate_bytes_are_reported_with_the_existing_swath() -> None:
    first, second = registered("A.nc"), registered("B.nc")
    for s, owner in ((first, "a"), (second, "b")):
        services.claim_upload(s.pk, owner, 60)
    o1 = services.start_object(first.pk, "primary", "swaths/a/1", "none")
    o2 = services.start_object(second.pk, "primary", "swaths/b/1", "none")
    services.mark_stored(first.pk, "a", o1.pk, size=10, sha256="c" * 64, stored_size=10)
    with pytest.raises(services.DuplicateSwath, match="A.nc v1"):
        services.mark_stored(second.pk, "b", o2.pk, size=10, sha256="c" * 64, stored_size=10)


def test_verified_requires_stored_first() -> None:
    swath = registered()
    obj = services.start_object(swath.pk, "primary", "swaths/a/2", "none")
    assert not services.mark_verified(swath.pk, obj.pk)
    assert StoredObject.objects.get(pk=obj.pk).state == "UPLOADING"


def test_a_changed_file_becomes_a_new_version() -> None:
    first = registered()
    services.claim_upload(first.pk, "a", 60)
    obj = services.start_object(first.pk, "primary", "swaths/a/3", "none")
    services.mark_stored(first.pk, "a", obj.pk, size=10, sha256="d" * 64, stored_size=10)
    services.mark_verified(first.pk, obj.pk)
    second = registered()
    assert (second.pk != first.pk, second.version) == (True, 2)
    assert Swath.objects.get(pk=first.pk).state == SwathState.VERIFIED


def test_failed_row_is_resumed_not_duplicated() -> None:
    first = registered()
    services.mark_failed(first.pk, "network down")
    again = registered()
    assert again.pk == first.pk
