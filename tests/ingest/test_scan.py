"""The scanner never reads outside the tree and reports what it refuses (RELIABILITY M4)."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from ingest.scan import printable, scan


def build_hostile_tree(root: Path, outside: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "ok.nc").write_bytes(b"x" * 10)
    (root / "sub" / "deep.nc").write_bytes(b"y" * 20)
    (outside / "secret.nc").write_bytes(b"secret")
    os.symlink(outside / "secret.nc", root / "link-out.nc")
    os.symlink(outside, root / "dir-out")
    os.symlink(root / "loop", root / "loop")  # a link to itself
    os.symlink("..", root / "sub" / "up")
    os.mkfifo(root / "fifo.nc")
    (root / "new\nline.nc").write_bytes(b"n")
    (root / "bell\x07.nc").write_bytes(b"b")
    os.close(os.open(os.path.join(os.fsencode(root), b"latin1-\xe9.nc"), os.O_CREAT | os.O_WRONLY))
    nfc = unicodedata.normalize("NFC", "caf\u00e9.nc")
    nfd = unicodedata.normalize("NFD", "caf\u00e9.nc")
    (root / nfc).write_bytes(b"1")
    (root / nfd).write_bytes(b"2")
    (root / ("L" * 250 + ".nc")).write_bytes(b"long")


def test_hostile_tree_reads_nothing_outside_and_reports_every_refusal(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    build_hostile_tree(root, outside)
    result = scan([root])
    found = {p.name for p, _ in result.files}
    assert all(Path(p).resolve().is_relative_to(root.resolve()) for p, _ in result.files)
    assert "secret.nc" not in found
    assert {"ok.nc", "deep.nc", "L" * 250 + ".nc"} <= found
    # NFC/NFD twins are two files with two names: both are kept, neither merged.
    assert len([n for n in found if unicodedata.normalize("NFC", n) == "caf\u00e9.nc"]) == 2
    refused = dict(result.refused)
    reasons = " | ".join(refused.values())
    assert sum("symbolic link" in r for r in refused.values()) == 4
    assert "not a regular file" in reasons
    assert sum("control character" in r for r in refused.values()) == 2
    # Refused names are printable: no raw newline or bell reaches a log line.
    assert all(p.isprintable() for p in refused)
    # A name that is not UTF-8 is still a file; it is shown (and stored) escaped.
    (latin1,) = [p for p, _ in result.files if p.name.startswith("latin1-")]
    assert printable(latin1).endswith("latin1-\\xe9.nc")


def test_a_file_given_directly_is_scanned_and_a_missing_path_refused(tmp_path: Path) -> None:
    f = tmp_path / "a.nc"
    f.write_bytes(b"abc")
    result = scan([f, tmp_path / "missing.nc"])
    assert [(p.name, s) for p, s in result.files] == [("a.nc", 3)]
    assert "cannot stat" in dict(result.refused)[str(tmp_path / "missing.nc")]


def test_include_globs_filter_by_name(tmp_path: Path) -> None:
    for name in ("a.nc", "b.h5", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    result = scan([tmp_path], include=["*.nc", "*.h5"])
    assert sorted(p.name for p, _ in result.files) == ["a.nc", "b.h5"]
    assert result.per_dir[str(tmp_path)] == 2
