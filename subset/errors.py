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


class SubsetTooLarge(SubsetError):
    """The subset would exceed the size limit; ``estimated_bytes`` says how big it would be."""

    def __init__(self, estimated_bytes: int, limit_bytes: int) -> None:
        super().__init__(
            f"the subset would be about {estimated_bytes / 1e6:.1f} MB, over the limit of "
            f"{limit_bytes / 1e6:.1f} MB: choose a smaller region or fewer variables"
        )
        self.estimated_bytes = estimated_bytes
        self.limit_bytes = limit_bytes
