"""An S3 endpoint restarted under the archive: `rclone serve s3` forgets its upload state
and then answers ListMultipartUploads itself with 404 NoSuchUpload. fsck and cleanup say
they could not check uploads, naming the store, and carry on with everything else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from archive.errors import UploadsUnlisted
from archive.stores import Store
from catalog.models import StoredObject
from ingest.pipeline import ingest_file
from tests.faults.helpers import collection, make_sources
from tests.support.s3servers import S3Server, start_rclone

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
def primary_on(settings: object, private_rclone: S3Server) -> Iterator[Store]:
    """Make the private rclone server the primary store."""
    import archive.config
    from tests.support.stores import stores_on

    with stores_on(settings, {"primary": f"s3://{private_rclone.bucket}/archive"},
                   private_rclone):
        yield archive.config.get_store("primary")


def archive_command(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `manage.py archive ARGS`; return its exit status, stdout and stderr."""
    try:
        call_command("archive", *args)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_after_an_rclone_restart_fsck_and_cleanup_warn_about_uploads_and_carry_on(
    primary_on, private_rclone: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coll = collection()
    for source in make_sources(tmp_path / "src", 2, MB, seed=41):
        assert ingest_file(source, coll.pk).status == "new"
    private_rclone.restart()  # rclone keeps multipart uploads in memory only

    with pytest.raises(UploadsUnlisted, match="primary: .*NoSuchUpload"):
        primary_on.list_uploads()

    code, out, err = archive_command(capsys, "fsck")
    assert code == 0, out + err  # nothing wrong with the archive, one thing unchecked
    assert UNLISTED in err and "2 catalogued copies checked" in out
    assert "MISSING 0" in out and "1 warnings" in out

    code, out, err = archive_command(capsys, "cleanup", "--older-than", "0s")
    assert code == 0, out + err
    assert UNLISTED in err and "0 uploads aborted" in out

    # A real problem still fails fsck, warning or not.
    gone = StoredObject.objects.order_by("pk").first()
    private_rclone.object_path(f"archive/{gone.key}").unlink()
    private_rclone.forget()
    code, out, err = archive_command(capsys, "fsck")
    assert code == 1
    assert f"MISSING      primary:{gone.key}" in out and UNLISTED in err
