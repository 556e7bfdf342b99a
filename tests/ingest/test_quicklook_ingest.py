"""Quicklooks at ingest: real granules through the real pipeline into a local store get a
PNG beside them; a file that cannot be drawn is VERIFIED all the same, with the reason."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

import ingest.inspector
from archive.stores import Store
from catalog.models import Swath
from catalog.services import get_or_create_collection
from ingest.inspector import Inspector
from ingest.pipeline import attach_quicklook, ingest_file, source_info
from ingest.quicklook import MAX_SIZE
from tests.support.stores import local_primary

pytestmark = pytest.mark.django_db
AMSR2 = "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"  # 2-D (1064 x 243) SST, 0.9 MB
ATL03 = "ATL03_gt1l.h5"  # HDF5 that netCDF4 cannot open
S6A = "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc"  # 1-D track
EMPTY = "ascat_20211220_231800_metopb_48038_eps_o_250_3202_ovw.l2.nc4"  # no data at all


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A local directory as the primary store."""
    with local_primary(tmp_path / "objects") as primary:
        yield primary


def ingested(shared_swaths: Path, name: str) -> Swath:
    collection, _ = get_or_create_collection("quicklooks")
    outcome = ingest_file(shared_swaths / name, collection.pk)
    assert outcome.status == "new", outcome.reason
    return Swath.objects.get(pk=outcome.swath_id)


def stored_bytes(store: Store, key: str) -> bytes:
    with store.open(key) as stream:
        return stream.read()


def test_a_verified_2d_swath_gets_a_png_quicklook_in_the_primary_store(
        store: Store, shared_swaths: Path) -> None:
    swath = ingested(shared_swaths, AMSR2)
    assert swath.state == "VERIFIED"
    look = swath.attrs["quicklook"]
    assert "quicklook_error" not in swath.attrs
    assert look["store"] == "primary"
    assert look["key"].startswith(f"quicklooks/{swath.uuid.hex}/") and look["key"].endswith(".png")
    png = stored_bytes(store, look["key"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert (look["size"], look["sha256"]) == (len(png), hashlib.sha256(png).hexdigest())
    image = Image.open(io.BytesIO(png))
    # 1064 x 243 pixels averaged 3 x 3: the long side within MAX_SIZE, the aspect kept
    assert image.size == (look["width"], look["height"]) == (81, 355)
    assert max(image.size) <= MAX_SIZE
    assert look["variable"] == image.text["variable"] == "/sea_surface_temperature"
    # the data object is the only copy row: a quicklook is no copy of the swath
    assert [c.key.split("/")[0] for c in swath.copies.all()] == ["swaths"]


def test_a_file_the_renderer_cannot_open_is_verified_with_the_reason(
        store: Store, shared_swaths: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ingest.pipeline"):
        swath = ingested(shared_swaths, ATL03)
    assert swath.state == "VERIFIED"
    assert "quicklook" not in swath.attrs
    reason = swath.attrs["quicklook_error"]
    assert "cannot open" in reason and ATL03 in reason
    assert str(shared_swaths) not in reason  # the API shows it: no server directories
    warning = next(r for r in caplog.records if "quicklook" in r.getMessage())
    assert warning.levelno == logging.WARNING and ATL03 in warning.getMessage()
    assert list(store.list("quicklooks/")) == []


def test_a_track_with_no_2d_field_records_why_without_a_warning(
        store: Store, shared_swaths: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ingest.pipeline"):
        swath = ingested(shared_swaths, S6A)
    assert swath.state == "VERIFIED"
    assert "no 2-D numeric variable" in swath.attrs["quicklook_error"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_empty_granule_simply_has_no_quicklook(store: Store, shared_swaths: Path) -> None:
    swath = ingested(shared_swaths, EMPTY)
    assert swath.state == "VERIFIED" and swath.is_empty
    assert "quicklook" not in swath.attrs and "quicklook_error" not in swath.attrs


def test_quicklooks_can_be_switched_off(store: Store, shared_swaths: Path,
                                        settings: object) -> None:
    settings.INGEST_QUICKLOOKS = False  # type: ignore[attr-defined]
    swath = ingested(shared_swaths, AMSR2)
    assert swath.state == "VERIFIED"
    assert "quicklook" not in swath.attrs and "quicklook_error" not in swath.attrs
    assert list(store.list("quicklooks/")) == []


def test_drawing_again_replaces_the_quicklook_and_deletes_the_old_object(
        store: Store, shared_swaths: Path) -> None:
    swath = ingested(shared_swaths, AMSR2)
    first = swath.attrs["quicklook"]["key"]
    attach_quicklook(swath.pk, shared_swaths / AMSR2, source_info(shared_swaths / AMSR2))
    swath.refresh_from_db()
    second = swath.attrs["quicklook"]["key"]
    assert second != first  # a key is never written twice
    assert [info.key for info in store.list("quicklooks/")] == [second]


def test_a_file_changed_since_it_was_archived_gets_no_quicklook(
        store: Store, shared_swaths: Path, tmp_path: Path) -> None:
    path = tmp_path / AMSR2
    path.write_bytes((shared_swaths / AMSR2).read_bytes())
    collection, _ = get_or_create_collection("quicklooks")
    outcome = ingest_file(path, collection.pk)
    before = source_info(path)
    with path.open("ab") as f:  # a trailing byte: still a readable file, but not the one archived
        f.write(b"\0")
    attach_quicklook(outcome.swath_id, path, before)
    swath = Swath.objects.get(pk=outcome.swath_id)
    assert swath.state == "VERIFIED"
    assert "changed since it was archived" in swath.attrs["quicklook_error"]
    assert "quicklook" not in swath.attrs
    # the first quicklook's object went with its record
    assert list(store.list("quicklooks/")) == []


def test_a_name_that_is_not_utf8_is_verified_with_an_escaped_reason(
        store: Store, shared_swaths: Path, tmp_path: Path) -> None:
    odd = os.path.join(os.fsencode(tmp_path), b"amsr2-\xe9.nc")
    shutil.copy2(shared_swaths / AMSR2, odd)
    collection, _ = get_or_create_collection("quicklooks")
    outcome = ingest_file(Path(os.fsdecode(odd)), collection.pk)
    assert outcome.status == "new", outcome.reason
    swath = Swath.objects.get(pk=outcome.swath_id)
    assert swath.state == "VERIFIED"
    # netCDF4 opens no such name; the reason quotes it escaped, as the catalog keeps names
    assert "amsr2-\\xe9.nc" in swath.attrs["quicklook_error"]


def test_on_an_s3_store_the_quicklook_is_an_image_png_object(
        s3_primary: Store, shared_swaths: Path) -> None:
    swath = ingested(shared_swaths, AMSR2)
    look = swath.attrs["quicklook"]
    info = s3_primary.head(look["key"])
    assert info is not None and info.content_type == "image/png"
    assert (info.size, info.sha256) == (look["size"], look["sha256"])
    assert stored_bytes(s3_primary, look["key"]).startswith(b"\x89PNG")


@pytest.fixture
def renderer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Give this thread's pooled inspector a renderer of tests.ingest.misbehaving_readers."""
    made: list[Inspector] = []

    def use(name: str) -> None:
        made.append(Inspector(renderer=f"tests.ingest.misbehaving_readers:{name}"))
        monkeypatch.setattr(ingest.inspector._local, "inspector", made[-1], raising=False)

    yield use
    for inspector in made:
        inspector.close()


def test_the_quicklook_is_drawn_outside_the_ingesting_process(
        store: Store, shared_swaths: Path, renderer: Callable[[str], None]) -> None:
    renderer("pid_renderer")
    swath = ingested(shared_swaths, AMSR2)
    drawn_by = int(swath.attrs["quicklook"]["variable"])
    assert drawn_by != os.getpid()


def test_a_quicklook_that_crashes_its_child_leaves_the_swath_verified_with_the_reason(
        store: Store, shared_swaths: Path, tmp_path: Path,
        renderer: Callable[[str], None]) -> None:
    renderer("crash_render_on_marker")
    path = tmp_path / f"crash-{AMSR2}"
    shutil.copy2(shared_swaths / AMSR2, path)
    collection, _ = get_or_create_collection("quicklooks")
    outcome = ingest_file(path, collection.pk)
    assert outcome.status == "new", outcome.reason
    swath = Swath.objects.get(pk=outcome.swath_id)
    assert swath.state == "VERIFIED"
    assert "SIGSEGV" in swath.attrs["quicklook_error"]
    assert str(tmp_path) not in swath.attrs["quicklook_error"]
    assert list(store.list("quicklooks/")) == []
