"""gunicorn settings shared by every way swathstore is served: the Docker image, compose,
`make run`, `make stack` and the suite's live servers. Their command lines name only
what differs between them (the bind address, the number of workers, log files).
"""

# Threaded workers: a sync worker streaming one download or export for longer than
# `timeout` would be killed mid-response by gunicorn's arbiter; a gthread worker's
# heartbeat is independent of the requests its threads serve.
worker_class = "gthread"
threads = 4
timeout = 30
# Idle connections are kept past aiohttp's 15 s pool (fsspec, reading chunk
# references): a server closing first races the client's next request on the
# connection, which then fails with "connection reset by peer".
keepalive = 30
# gunicorn's largest finite request line (its default is 4,094 bytes): a GET search
# whose `intersects` polygon has up to about 200 vertices fits; a longer one is refused
# by gunicorn with a 414 naming the request line, and goes by POST (docs/API.md).
limit_request_line = 8190
