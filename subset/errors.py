"""Errors of the subset kernel; each message says what was wrong in words a user understands."""

from __future__ import annotations


class SubsetError(ValueError):
    """A subset that cannot be made as asked (bad region, variable, source); not retryable."""


class RegionError(SubsetError):
    """The region is malformed: outside the lon/lat range, self-intersecting, empty."""


class VariableNotFound(SubsetError):
    """A requested variable does not exist in the swath."""


class NoDataInRegion(SubsetError):
    """The region touches no valid pixel of the swath: there is nothing to deliver."""


class SourceError(SubsetError):
    """The swath file cannot be read or holds no usable geolocation."""


class SourceGone(SubsetError):
    """The swath has no readable copy left (the message says what became of each): a cut
    cannot succeed until one is healed or ingested again."""


class SubsetTooLarge(SubsetError):
    """The subset would exceed the size limit; ``estimated_bytes`` says how big it would be."""

    def __init__(self, estimated_bytes: int, limit_bytes: int) -> None:
        super().__init__(
            f"the subset would be about {estimated_bytes / 1e6:.1f} MB, over the limit of "
            f"{limit_bytes / 1e6:.1f} MB: choose a smaller region or fewer variables"
        )
        self.estimated_bytes = estimated_bytes
        self.limit_bytes = limit_bytes


class SubsetTotalTooLarge(SubsetTooLarge):
    """The estimates of every swath of one request add up to more than the total limit."""

    def __init__(self, estimated_bytes: int, limit_bytes: int, swaths: int) -> None:
        SubsetError.__init__(
            self,
            f"the {swaths} subsets of this request would be about {estimated_bytes / 1e6:.1f} "
            f"MB in all, over the limit of {limit_bytes / 1e6:.1f} MB per request: narrow "
            "the search (area, time, collections) or choose fewer variables")
        self.estimated_bytes = estimated_bytes
        self.limit_bytes = limit_bytes
        self.swaths = swaths
