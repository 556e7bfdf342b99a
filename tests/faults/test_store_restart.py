"""An S3 endpoint restarted under the archive. `rclone serve s3` forgets its upload state
and then answers ListMultipartUploads itself with 404 NoSuchUpload: fsck and cleanup say
they could not check uploads, naming the store, and carry on with everything else.
SeaweedFS keeps its uploads in its filer: after a restart fsck still finds an unfinished
one and cleanup aborts it.

Each test restarts a server of its own (restarting the session's would disturb others),
so each is about that server's behaviour rather than run on every server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archive.errors import UploadsUnlisted
from archive.stores import Store
from catalog.models import StoredObject
from ingest.pipeline import ingest_file
from tests.faults.helpers import collection, make_sources
from tests.support.commands import archive_command
from tests.support.s3servers import S3Server, start_rclone, start_seaweedfs

pytestmark = [pytest.mark.faults, pytest.mark.django_db]

MB = 1_000_000
UNLISTED = "WARNING primary: cannot list multipart uploads"


@pytest.fixture
def private_rclone(tmp_path: Path) -> Iterator[S3Server]:
    """An rclone server of this test's own: restarting the session's would disturb others."""
    server = start_rclone(tmp_path / "rclone")
    yield server
    server.stop()


@pytest.fixture
def private_seaweedfs(tmp_path: Path) -> Iterator[S3Server]:
    """A SeaweedFS server of this test's own."""
    server = start_seaweedfs(tmp_path / "seaweedfs")
    yield server
    server.stop()


@contextmanager
def primary_on(settings: object, server: S3Server) -> Iterator[Store]:
    """Make ``server`` (under ``archive/``) the primary store."""
    import archive.config
    from tests.support.stores import stores_on

    with stores_on(settings, {"primary": f"s3://{server.bucket}/archive"}, server):
        yield archive.config.get_store("primary")


def test_after_an_rclone_restart_fsck_and_cleanup_warn_about_uploads_and_carry_on(
    settings: object, private_rclone: S3Server, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    with primary_on(settings, private_rclone) as store:
        check_uploads_unlisted_after_a_restart(store, private_rclone, tmp_path, capsys)


def check_uploads_unlisted_after_a_restart(store: Store, server: S3Server, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """fsck and cleanup warn that uploads went unlisted; a missing object still fails fsck."""
    coll = collection()
    for source in make_sources(tmp_path / "src", 2, MB, seed=41):
        assert ingest_file(source, coll.pk).status == "new"
    server.restart()  # rclone keeps multipart uploads in memory only

    with pytest.raises(UploadsUnlisted, match="primary: .*NoSuchUpload"):
        store.list_uploads()

    code, out, err = archive_command(capsys, "fsck")
    assert code == 0, out + err  # nothing wrong with the archive, one thing unchecked
    assert UNLISTED in err and "2 catalogued copies checked" in out
    assert "MISSING 0" in out and "1 warnings" in out

    code, out, err = archive_command(capsys, "cleanup", "--older-than", "0s")
    assert code == 0, out + err
    assert UNLISTED in err and "0 uploads aborted" in out

    # A real problem still fails fsck, warning or not.
    gone = StoredObject.objects.order_by("pk").first()
    server.remove_behind(f"archive/{gone.key}")
    code, out, err = archive_command(capsys, "fsck")
    assert code == 1
    assert f"MISSING      primary:{gone.key}" in out and UNLISTED in err


def test_after_a_seaweedfs_restart_fsck_finds_an_unfinished_upload_and_cleanup_aborts_it(
    settings: object, private_seaweedfs: S3Server, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    server = private_seaweedfs
    with primary_on(settings, server) as store:
        coll = collection()
        for source in make_sources(tmp_path / "src", 2, MB, seed=42):
            assert ingest_file(source, coll.pk).status == "new"
        # What a worker killed between its parts leaves: an upload with no row.
        left = "swaths/00000000000000000000000000000042/killed.nc"
        server.client().create_multipart_upload(Bucket=server.bucket, Key=f"archive/{left}")
        server.restart()

        assert [u.key for u in store.list_uploads()] == [left]
        code, out, err = archive_command(capsys, "fsck")
        assert code == 1, out + err
        assert f"primary:{left}" in out and "STALE_UPLOAD 1" in out
        assert "2 catalogued copies checked" in out and "MISSING 0" in out
        assert UNLISTED not in err

        code, out, err = archive_command(capsys, "cleanup", "--older-than", "0s")
        assert code == 0 and "1 uploads aborted" in out, out + err
        assert store.list_uploads() == []

        gone = StoredObject.objects.order_by("pk").first()
        server.remove_behind(f"archive/{gone.key}")
        code, out, err = archive_command(capsys, "fsck")
        assert code == 1
        assert f"MISSING      primary:{gone.key}" in out and "STALE_UPLOAD 0" in out
