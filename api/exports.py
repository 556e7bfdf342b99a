"""Search exports: every match of a search, streamed at constant memory.

A search's matches are read in keyset batches (api.search.run_search, EXPORT_BATCH rows
a statement, the same filters, order and snapshot as its pages), and each batch is
written out before the next is read: the server holds one batch, whatever the number
of matches. The formats:

- ``parquet``: stac-geoparquet (api.stac.geoparquet), one row group a batch;
- ``urls``: one download URL a line, for ``wget -i`` / ``xargs curl -O``;
- ``sha256``: ``<sha256>  <filename>`` lines, for ``sha256sum -c`` over those files;
- ``tsv``: url, filename, size, sha256 with a header line, for tools.

The URLs end in the file's name (/api/v1/swaths/{uuid}/download/{filename}), because
wget and ``curl -O`` name a file after the last segment of its URL, and they ignore
Content-Disposition unless asked: so the files they write are the names in the
``sha256`` manifest. Only VERIFIED swaths can be downloaded, so only those are exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import chain
from typing import Any
from urllib.parse import quote

from django.db import connection, connections
from django.http import StreamingHttpResponse

from api.exceptions import QueryError
from api.search import SearchPage, SwathSearch, refuse_coverage, run_search
from catalog.models import Swath, SwathState

# Rows a statement: large enough that a statement's own cost is small beside its rows',
# small enough that a batch of rendered items stays a few MB.
EXPORT_BATCH = 2000
# format -> (media type, file name extension)
FORMATS: dict[str, tuple[str, str]] = {
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "urls": ("text/uri-list; charset=utf-8", "urls.txt"),
    "sha256": ("text/plain; charset=utf-8", "sha256"),
    "tsv": ("text/tab-separated-values; charset=utf-8", "tsv"),
}
# Tries of a batch after the first (exports._retrying).
BATCH_ATTEMPTS = 3
MANIFEST_COLUMNS = ("id", "uuid", "filename", "size", "sha256")


def parse_format(raw: object) -> str:
    """The export format named by `format`; QueryError naming the choices otherwise."""
    if raw in (None, ""):
        raise QueryError(f"format is required: one of {', '.join(FORMATS)}")
    if not isinstance(raw, str) or raw not in FORMATS:
        raise QueryError(f"format={str(raw)[:40]!r} is not one of {', '.join(FORMATS)}")
    return raw


def get_params(request: Any) -> tuple[dict[str, str], str]:
    """A GET export's search parameters without `format`, and the format."""
    params = request.query_params.dict()
    return params, parse_format(params.pop("format", None))


def post_body(request: Any) -> tuple[dict[str, Any], str]:
    """A POST export's search body without `format`, and the format (the body's, else the
    query string's)."""
    body = request.data
    if not isinstance(body, dict):
        raise QueryError("the search body must be a JSON object")
    body = dict(body)
    return body, parse_format(body.pop("format", None) or request.query_params.get("format"))


def export_search(search: SwathSearch) -> SwathSearch:
    """The search an export runs: every match from the first, in batches, uncounted.

    QueryError for what an export cannot honour: a paging token (an export has every
    page) or swaths in states other than VERIFIED (they cannot be downloaded).
    """
    refuse_coverage(search, "an export")
    if search.token:
        raise QueryError("token (next): an export has every match, from the first; drop it")
    if list(search.states) != [SwathState.VERIFIED]:
        raise QueryError("state: only VERIFIED swaths can be downloaded, so only they "
                         "are exported; drop the state parameter")
    return replace(search, limit=EXPORT_BATCH, count=False, token=None)


def batches(search: SwathSearch, fetch: Callable[[SwathSearch], SearchPage]
            ) -> Iterator[list[Any]]:
    """The rows of every page of `search` (from export_search), one page at a time.

    The next page is read on a second connection while the caller writes this one out
    (PostgreSQL works while Python renders: on two cores the export takes about the
    longer of the two, not their sum), so two pages at most are held. Not inside a
    transaction: another connection would not see its rows.
    """
    fetch = _retrying(fetch)
    if connection.in_atomic_block or connection.vendor != "postgresql":
        yield from _pages(search, fetch)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="export") as pool:
        ahead = pool.submit(fetch, search)
        try:
            while True:
                page = ahead.result()
                if page.next_token is not None:
                    ahead = pool.submit(fetch, replace(search, token=page.next_token))
                if page.rows:
                    yield page.rows
                if page.next_token is None:
                    return
        finally:
            ahead.cancel()
            pool.submit(connections.close_all).result()  # the thread's own connection


def _retrying(fetch: Callable[[SwathSearch], SearchPage]) -> Callable[[SwathSearch], SearchPage]:
    """fetch, a batch after the first tried again when it fails (QueryError: over the
    statement time limit). The first batch proved the query's plan, which every batch
    shares; a later one over the limit met a busy server, and one stall should not cut
    off an export of a million rows. The first batch's error is the client's 400."""

    def fetch_again(search: SwathSearch) -> SearchPage:
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                return fetch(search)
            except QueryError:
                if search.token is None or attempt == BATCH_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    return fetch_again


def _pages(search: SwathSearch, fetch: Callable[[SwathSearch], SearchPage]
           ) -> Iterator[list[Any]]:
    while True:
        page = fetch(search)
        if page.rows:
            yield page.rows
        if page.next_token is None:
            return
        search = replace(search, token=page.next_token)


def download_path(uuid: object, filename: str) -> str:
    """The download URL's path that ends in the file's name.

    >>> download_path("0b8c", "S6A P4 2.nc")
    '/api/v1/swaths/0b8c/download/S6A%20P4%202.nc'
    """
    return f"/api/v1/swaths/{uuid}/download/{quote(filename, safe='')}"


def manifest_batches(search: SwathSearch) -> Iterator[list[dict[str, Any]]]:
    """The rows a manifest is written from, a batch at a time."""
    sort_cols = tuple(col for col, _ in search.order if col not in MANIFEST_COLUMNS)
    columns = MANIFEST_COLUMNS + sort_cols
    yield from batches(search, lambda s: run_search(s, Swath.objects.all(), columns))


def manifest(batches: Iterable[list[dict[str, Any]]], fmt: str, base_url: str
             ) -> Iterator[bytes]:
    """The `urls`, `sha256` or `tsv` file of manifest_batches(), a batch a piece."""
    if fmt == "tsv":
        yield b"url\tfilename\tsize\tsha256\n"
    for rows in batches:
        if fmt == "urls":
            lines = [f"{base_url}{download_path(r['uuid'], r['filename'])}\n" for r in rows]
        elif fmt == "sha256":
            # A swath with no recorded checksum has nothing for sha256sum to check.
            lines = [_checksum_line(r["sha256"], r["filename"]) for r in rows if r["sha256"]]
        else:
            lines = [f"{base_url}{download_path(r['uuid'], r['filename'])}\t"
                     f"{_tsv(r['filename'])}\t{r['size'] if r['size'] is not None else ''}\t"
                     f"{r['sha256'] or ''}\n" for r in rows]
        yield "".join(lines).encode()


def _checksum_line(sha256: str, filename: str) -> str:
    r"""A line of sha256sum's format; a name with a backslash or a newline is escaped
    as sha256sum escapes it (the line starts with a backslash).

    >>> _checksum_line("ab", "a.nc"), _checksum_line("ab", "a\\b.nc")
    ('ab  a.nc\n', '\\ab  a\\\\b.nc\n')
    """
    if "\\" not in filename and "\n" not in filename:
        return f"{sha256}  {filename}\n"
    escaped = filename.replace("\\", "\\\\").replace("\n", "\\n")
    return f"\\{sha256}  {escaped}\n"


def _tsv(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ")


def attachment_name(fmt: str) -> str:
    return f"swathstore-export.{FORMATS[fmt][1]}"


def primed(batches: Iterator[list[Any]]) -> Iterator[list[Any]]:
    """`batches` with its first batch already read: a search the database refuses (too
    slow) is a 400 before the response starts, not a file cut off."""
    first = next(batches, None)
    return iter(()) if first is None else chain([first], batches)


def streaming(fmt: str, pieces: Iterable[bytes]) -> StreamingHttpResponse:
    """The export's response: streamed, named as a download."""
    response = StreamingHttpResponse(pieces, content_type=FORMATS[fmt][0])
    response["Content-Disposition"] = f'attachment; filename="{attachment_name(fmt)}"'
    response["Cache-Control"] = "no-store"
    return response


def manifest_response(search: SwathSearch, fmt: str, base_url: str) -> StreamingHttpResponse:
    """A search's `urls`, `sha256` or `tsv` export (search from export_search)."""
    return streaming(fmt, manifest(primed(manifest_batches(search)), fmt, base_url))
