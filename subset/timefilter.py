"""Per-pixel and per-scan-line time windows, decoded as ``ingest.timeparse`` decodes them.

``ingest.timeparse.pair_time_range`` chooses a pair's time variable (and reference, for
offsets such as TROPOMI's delta_time or GHRSST's sst_dtime) and says how it is encoded;
this module turns a requested [start, end] into the variable's own numbers once, so the
test on millions of pixels is a plain comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ingest.geoloc import core_shape, mask_and_scale
from ingest.timeparse import (
    DURATION_SECONDS,
    GPS_EPOCH,
    SINCE,
    TAI93_EPOCH,
    decode_cf,
    leap_offset,
    pair_time_range,
)
from subset.errors import SubsetError
from subset.source import Source, Var
from subset.window import Geo, Sel


@dataclass
class TimeFilter:
    """Selects pixels whose time lies in [lo, hi], in the time variable's own numbers."""

    var: Var
    geo: Geo
    lo: float
    hi: float

    def __call__(self, core: Sel) -> np.ndarray:
        """Return a boolean array broadcastable to the core block ``core``."""
        shape = core_shape(self.var.ref())
        nd = len(self.geo.shape)
        if self.var.shape == () or int(np.prod(self.var.shape)) == 1:
            raw = self.var.read()
            sel_shape = (1,) * nd
        else:
            sel = [slice(None)] * len(self.var.shape)
            core_axes = [a for a, n in enumerate(self.var.shape) if n != 1]
            for axis, s in zip(core_axes, core[: len(shape)], strict=False):
                sel[axis] = s
            raw = self.var.read(tuple(sel))
            sizes = [len(range(*s.indices(n))) for s, n in zip(core, self.geo.shape, strict=True)]
            sel_shape = tuple(sizes[: len(shape)]) + (1,) * (nd - len(shape))
        attrs = {k: v for k, v in self.var.ref().attrs.items()}
        values = mask_and_scale(raw, attrs)
        ok = ~np.ma.getmaskarray(values) & (values.filled(np.nan) >= self.lo) & (
            values.filled(np.nan) <= self.hi)
        return ok.reshape(sel_shape)


def build(source: Source, geo: Geo, start: datetime | None, end: datetime | None,
          epoch: str | None = None) -> TimeFilter:
    """Return the time filter of a pair for [start, end]; SubsetError if time is unknown."""
    refs = source.refs()
    found = pair_time_range(refs, geo.pair, epoch)
    if found is None:
        raise SubsetError(f"no decodable time variable for {geo.lat.path}: a time window "
                          "cannot be applied to this swath")
    paths = [p.strip() for p in found.variable.split(" + ")]
    var = source.var(paths[-1])
    units = var.ref().attr_str("units", "Units")
    lo = _to_number(start, found.encoding, units, var, source, paths) if start else -np.inf
    hi = _to_number(end, found.encoding, units, var, source, paths) if end else np.inf
    return TimeFilter(var, geo, lo, hi)


def _to_number(when: datetime, encoding: str, units: str, var: Var, source: Source,
               paths: list[str]) -> float:
    """Return ``when`` in the time variable's numbers."""
    when = when.astimezone(UTC)
    scale = DURATION_SECONDS.get(units.strip().lower(), 1.0)
    if len(paths) == 2:  # reference time + offset
        ref = source.var(paths[0])
        ref_units = ref.ref().attr_str("units", "Units")
        base = decode_cf(mask_and_scale(ref.read(), ref.ref().attrs).compressed()[:1].tolist(),
                         ref_units, ref.ref().attr_str("calendar") or "standard")[0]
        return (when - base).total_seconds() / scale
    if SINCE.match(units):
        import cftime

        naive = when.replace(tzinfo=None)
        return float(cftime.date2num(naive, units, var.ref().attr_str("calendar") or "standard"))
    if encoding.startswith("GPS"):
        return ((when - GPS_EPOCH).total_seconds() + leap_offset(when) - 19) / scale
    if encoding.startswith("TAI-93"):
        return ((when - TAI93_EPOCH).total_seconds() + leap_offset(when) - 27) / scale
    raise SubsetError(f"time of {var.path} is encoded as {encoding!r}, which is not supported")
