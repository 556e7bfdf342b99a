"""Pure functions that build and check object keys; keys never come from user file names."""

from __future__ import annotations

import re

MAX_KEY_BYTES = 1024

_OBJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SUFFIX = re.compile(r"^(\.[A-Za-z0-9]{1,16}){0,3}$")
# Names our stores and rclone use for in-flight temporary files; an object with such a
# name would be hidden from listings or clash with a temporary file.
_RESERVED_SEGMENT_PREFIXES = (".archive-", ".rclone_temp_", ".rclone_multipart_upload_")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe, canonical object key; raise ValueError otherwise.

    >>> validate_key("swaths/42/ab.nc")
    'swaths/42/ab.nc'
    >>> validate_key("swaths/../etc/passwd")
    Traceback (most recent call last):
    ...
    ValueError: key 'swaths/../etc/passwd' has an empty, '.' or '..' segment
    >>> validate_key("a//b")
    Traceback (most recent call last):
    ...
    ValueError: key 'a//b' has an empty, '.' or '..' segment
    >>> validate_key("a/b\\n")
    Traceback (most recent call last):
    ...
    ValueError: key 'a/b\\n' contains a control character
    >>> validate_key("x" * 1025)
    Traceback (most recent call last):
    ...
    ValueError: key is 1025 bytes long, the limit is 1024
    """
    if not isinstance(key, str) or not key:
        raise ValueError("key must be a non-empty string")
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise ValueError(f"key is {size} bytes long, the limit is {MAX_KEY_BYTES}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise ValueError(f"key {key!r} contains a control character")
    if "\\" in key:
        raise ValueError(f"key {key!r} contains a backslash")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"key {key!r} has an empty, '.' or '..' segment")
        if segment.startswith(_RESERVED_SEGMENT_PREFIXES):
            raise ValueError(f"key {key!r} uses a reserved temporary-file name")
    return key


def swath_key(object_id: str, sha256: str, suffix: str = "") -> str:
    """Return the content-addressed key ``swaths/<object_id>/<sha256><suffix>`` of a swath.

    >>> swath_key("7f3a", "ab" * 32, ".nc.zst")
    'swaths/7f3a/abababababababababababababababababababababababababababababababab.nc.zst'
    >>> swath_key("../x", "ab" * 32)
    Traceback (most recent call last):
    ...
    ValueError: object id '../x' must be 1-128 letters, digits, '-' or '_'
    """
    return _content_key("swaths", object_id, sha256, suffix)


def product_key(product_id: str, sha256: str, suffix: str = ".nc") -> str:
    """Return the content-addressed key ``products/<product_id>/<sha256><suffix>`` of a subset.

    >>> product_key("p-1", "00" * 32)
    'products/p-1/0000000000000000000000000000000000000000000000000000000000000000.nc'
    >>> product_key("p-1", "XYZ")
    Traceback (most recent call last):
    ...
    ValueError: sha256 must be 64 lowercase hex digits, got 'XYZ'
    """
    return _content_key("products", product_id, sha256, suffix)


def quicklook_key(swath_id: str, attempt_id: str) -> str:
    """Return ``quicklooks/<swath_id>/<attempt_id>.png``, the key of a swath's quicklook.

    Outside ``swaths/``: a quicklook is derived from the archived bytes, not part of them,
    so fsck, reconcile and rebuild-catalog (which walk ``swaths/``) never take it for a copy.

    >>> quicklook_key("7f3a", "c0ffee")
    'quicklooks/7f3a/c0ffee.png'
    >>> quicklook_key("7f3a", "../x")
    Traceback (most recent call last):
    ...
    ValueError: attempt id '../x' must be 1-128 letters, digits, '-' or '_'
    """
    _check_ids(swath_id, attempt_id)
    return validate_key(f"quicklooks/{swath_id}/{attempt_id}.png")


def index_key(swath_id: str, attempt_id: str) -> str:
    """Return ``indexes/<swath_id>/<attempt_id>.json``, the key of a swath's chunk index
    (kerchunk references, ingest.chunkindex).

    Outside ``swaths/`` for the reason quicklooks are: derived from the archived bytes,
    never taken for a copy of them.

    >>> index_key("7f3a", "c0ffee")
    'indexes/7f3a/c0ffee.json'
    >>> index_key("", "c0ffee")
    Traceback (most recent call last):
    ...
    ValueError: swath id '' must be 1-128 letters, digits, '-' or '_'
    """
    _check_ids(swath_id, attempt_id)
    return validate_key(f"indexes/{swath_id}/{attempt_id}.json")


def _check_ids(swath_id: str, attempt_id: str) -> None:
    for what, value in (("swath id", swath_id), ("attempt id", attempt_id)):
        if not isinstance(value, str) or not _OBJECT_ID.match(value):
            raise ValueError(f"{what} {value!r} must be 1-128 letters, digits, '-' or '_'")


def _content_key(kind: str, object_id: str, sha256: str, suffix: str) -> str:
    """Build ``<kind>/<object_id>/<sha256><suffix>`` after checking each part."""
    if not isinstance(object_id, str) or not _OBJECT_ID.match(object_id):
        raise ValueError(f"object id {object_id!r} must be 1-128 letters, digits, '-' or '_'")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ValueError(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
    if not _SUFFIX.match(suffix):
        raise ValueError(f"suffix {suffix!r} must look like '.nc' or '.nc.zst'")
    return validate_key(f"{kind}/{object_id}/{sha256}{suffix}")
