"""LSH banding and the in-memory multimap behind it.

`band_keys` turns MinHash signatures into one 32-bit key per band; two articles that share
any key are candidates (a chance collision of 32-bit keys only costs one extra verification).
`KeyIndex` maps keys to article numbers with sorted numpy runs merged geometrically (a
log-structured merge tree in miniature): inserting a batch costs a sort of the batch, a
lookup is a vectorised binary search per run, and memory is 8 bytes per (key, article) pair,
growing linearly with the corpus. A Python dict holding the same pairs needs ~15x more.
"""

from __future__ import annotations

import numpy as np

# Band layout. Two rows per band find pairs down to a Jaccard similarity of about 0.2
# (48 bands: 93% of pairs at J = 0.23, see docs/dedup.md); the lead signature catches copies
# trimmed to their first paragraphs, whose whole-text similarity is low.
WHOLE_BANDS = 48
WHOLE_ROWS = 2
LEAD_PERM = 16
LEAD_BANDS = 8
LEAD_ROWS = 2

_BAND_SALT = (np.arange(1, 64, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(0xD6E8FEB86659FD93)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(31))
    x = x * np.uint64(0x7FB5D329728EA185)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x81DADEF4BC2DD44D)
    return x ^ (x >> np.uint64(33))


def _bands(sig: np.ndarray, bands: int, rows: int, salt_offset: int) -> np.ndarray:
    n = sig.shape[0]
    s = sig[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    key = np.zeros((n, bands), dtype=np.uint64)
    for r in range(rows):
        key = _mix(key ^ (s[:, :, r] + np.uint64(r + 1) * np.uint64(0x632BE59BD9B4E019)))
    return _mix(key ^ _BAND_SALT[salt_offset : salt_offset + bands][None, :])


def band_keys(whole: np.ndarray, lead: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """One uint32 key per band for each article (n x NUM_BANDS); 0 (no key) where `usable` is False."""
    keys = np.concatenate(
        [_bands(whole, WHOLE_BANDS, WHOLE_ROWS, 0), _bands(lead, LEAD_BANDS, LEAD_ROWS, WHOLE_BANDS)], axis=1
    )
    keys = (keys >> np.uint64(32)).astype(np.uint32)
    keys[keys == 0] = 1  # 0 is reserved for "no key"
    keys[~usable] = 0
    return keys


NUM_BANDS = WHOLE_BANDS + LEAD_BANDS


def _merge(old: tuple[np.ndarray, np.ndarray], new: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted runs in linear time and without an index array the size of both
    (a full argsort would need 8 more bytes per pair at the moment memory peaks)."""
    old_k, old_v = old
    new_k, new_v = new
    at = np.searchsorted(old_k, new_k, side="right") + np.arange(len(new_k))  # new pairs go after equal old ones
    keys = np.empty(len(old_k) + len(new_k), dtype=old_k.dtype)
    values = np.empty(len(keys), dtype=old_v.dtype)
    is_new = np.zeros(len(keys), dtype=bool)
    is_new[at] = True
    keys[at], values[at] = new_k, new_v
    keys[~is_new], values[~is_new] = old_k, old_v
    return keys, values


# A new run is merged into the last one while that is at most MERGE_FACTOR times its size, so
# runs shrink by more than this factor from first to last: log_k(n / batch) runs to search per
# lookup, and each pair is copied about k/2 times per level. k = 4 searches half the runs of
# k = 2 for as many copies (1,000,000 articles: 6 runs instead of 11).
MERGE_FACTOR = 4


class KeyIndex:
    """An append-only multimap key -> int32 value, kept as sorted numpy runs.

    :param dtype: the key type (uint32 for band keys, uint64 for fingerprints).
    """

    def __init__(self, dtype=np.uint32) -> None:
        self.dtype = np.dtype(dtype)
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []


    def __len__(self) -> int:
        return sum(len(k) for k, _ in self._runs)

    @property
    def nbytes(self) -> int:
        """Memory held by the keys and values."""
        return sum(k.nbytes + v.nbytes for k, v in self._runs)

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Insert pairs (keys of 0 are skipped)."""
        keep = keys != 0
        keys, values = keys[keep].astype(self.dtype), values[keep].astype(np.int32)
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        run = (keys[order], values[order])
        # Merge while the newest run is at least 1/MERGE_FACTOR the size of the one before it,
        # so there are O(log n) runs and each pair is merged O(log n) times.
        while self._runs and len(self._runs[-1][0]) <= MERGE_FACTOR * len(run[0]):
            run = _merge(self._runs.pop(), run)
        self._runs.append(run)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All stored pairs whose key is in *keys*: (position in *keys*, stored value)."""
        keys = keys.astype(self.dtype)
        order = np.argsort(keys, kind="stable")  # sorted queries walk each run in order (cache friendly)
        sorted_keys = keys[order]
        positions, values = [], []
        for run_keys, run_values in self._runs:
            n = len(run_keys)
            lo = np.searchsorted(run_keys, sorted_keys, side="left")
            found = np.flatnonzero((lo < n) & (sorted_keys != 0))
            if not len(found):
                continue
            found = found[run_keys[lo[found]] == sorted_keys[found]]
            if not len(found):
                continue
            # Most keys occur once; the few repeated ones (copies of one text) need their extent.
            hi = np.searchsorted(run_keys, sorted_keys[found], side="right")
            c = hi - lo[found]
            positions.append(np.repeat(order[found], c))
            starts = np.repeat(lo[found] - np.concatenate(([0], np.cumsum(c)[:-1])), c)
            values.append(run_values[starts + np.arange(c.sum())])
        if not positions:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return np.concatenate(positions), np.concatenate(values).astype(np.int64)
