"""The PII key of ingestion: where it comes from (``GONGHUI_PII_KEY`` or a loud development
default), its id, and the keyed HMAC that pseudonymises identity numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

import polars as pl

log = logging.getLogger(__name__)


DEV_PII_KEY = "gonghui-development-key-DO-NOT-USE-IN-PRODUCTION"

DEV_PII_KEY_WARNING = (
    "GONGHUI_PII_KEY is not set: identity numbers are hashed with the PUBLIC "
    "development key. Set GONGHUI_PII_KEY to a secret before loading real data."
)
_dev_key_warned = False


def pii_key(*, warn: bool = True) -> bytes:
    """The HMAC key for identity numbers; a development default warns loudly (``warn``:
    when the key is used to pseudonymise, not only to tell whether it changed).

    The warning is one log record (logger ``orchestration.lib.ingest.keys``), once per process:
    ``gonghui run`` repeats it in its summary; a run in ``dagster dev`` has it in its log."""
    global _dev_key_warned
    key = os.environ.get("GONGHUI_PII_KEY")
    if not key:
        if warn and not _dev_key_warned:
            _dev_key_warned = True
            log.warning(DEV_PII_KEY_WARNING)
        key = DEV_PII_KEY
    return key.encode("utf-8")


def pii_key_id(key: bytes) -> str:
    """A short identifier of the PII key that does not reveal it (an HMAC of a constant).

    Recorded with every ingested file (``raw.source_files._pii_key_id``): rows pseudonymised
    with another key cannot be matched with new ones (a member would count twice), so a key
    change makes every street "changed" and re-read, like a mapping change.
    """
    return hmac.new(key, b"gonghui pii key id", hashlib.sha256).hexdigest()[:16]


def keyed_hash(series: pl.Series, key: bytes) -> pl.Series:
    """HMAC-SHA256 (hex) of each non-null value; the same key gives the same pseudonym.

    HMAC by its definition (RFC 2104), ``sha256((K ^ opad) || sha256((K ^ ipad) || m))``,
    with both padded-key blocks hashed once per call: each value costs a copy of the two
    prepared SHA-256 states (OpenSSL's), not the key set-up of a one-shot ``hmac.digest``.
    Once per distinct value when values repeat (then mapped back in polars).
    :func:`keyed_hash_reference` is the definition and gives the same output (a test
    compares). Measured on 1.2 M identity numbers, one core: 0.93 s against 1.9 s for
    ``hmac.digest`` per value, 1.4 s for ``hmac`` copies and 1.4 s for the same
    composition in DuckDB (``sha256(opad || unhex(sha256(ipad || value)))``)."""
    present = series.drop_nulls()
    distinct = present.unique() if present.n_unique() * 2 <= present.len() else present
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded)).copy
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded)).copy

    def one(value: bytes) -> str:
        h = inner()
        h.update(value)
        o = outer()
        o.update(h.digest())
        return o.hexdigest()

    hashes = pl.Series(list(map(one, distinct.cast(pl.Binary).to_list())), dtype=pl.String)
    if distinct is not present:  # repeated values (a roster's members over many periods)
        hashes = series.replace_strict(distinct, hashes, default=None, return_dtype=pl.String)
    elif series.null_count():
        hashes = pl.Series([None] * series.len(), dtype=pl.String).scatter(
            series.is_not_null().arg_true(), hashes
        )
    return hashes.alias(series.name)


def keyed_hash_reference(series: pl.Series, key: bytes) -> pl.Series:
    """:func:`keyed_hash` value by value (the definition; tests compare the two)."""
    return pl.Series(
        series.name,
        [
            None if v is None else hmac.digest(key, v.encode("utf-8"), hashlib.sha256).hex()
            for v in series.to_list()
        ],
        dtype=pl.String,
    )
