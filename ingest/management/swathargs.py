"""The arguments shared by the commands that walk archived swaths in batches (reinspect,
index): --swath UUID, --collection, --store, --batch, --timeout, checked one way."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

import archive.config
from catalog.models import Collection, Swath


def swath_uuid(text: str) -> str:
    """Return a --swath value as a uuid string; CommandError (exit 2) naming it if it is not."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise CommandError(f"--swath {text!r} is not a swath uuid", returncode=2) from None


def check_batch_arguments(opts: dict, uuids: list[str], done: str) -> None:
    """Refuse arguments that name nothing, naming the one at fault (exit status 2).

    ``done`` completes "only VERIFIED swaths are ..." for a --swath in another state.
    """
    if int(opts["batch"]) < 1:
        raise CommandError(f"--batch must be at least 1, got {opts['batch']}", returncode=2)
    if opts["timeout"] is not None and float(opts["timeout"]) <= 0:
        raise CommandError(f"--timeout must be positive, got {opts['timeout']}", returncode=2)
    slug = opts["collection"]
    if slug and not Collection.objects.filter(slug=slug).exists():
        raise CommandError(f"--collection {slug!r}: no such collection", returncode=2)
    if opts["store"] not in archive.config.configured_names():
        raise CommandError(f"--store {opts['store']!r}: no such store (configured: "
                           f"{', '.join(archive.config.configured_names())})", returncode=2)
    for value in uuids:
        state = Swath.objects.filter(uuid=value).values_list("state", flat=True).first()
        if state is None:
            raise CommandError(f"--swath {value}: no such swath", returncode=2)
        if state != Swath.State.VERIFIED:
            raise CommandError(f"--swath {value} is {state}: only VERIFIED swaths are {done}",
                               returncode=2)
