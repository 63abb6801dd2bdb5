"""The keyed hash of identity numbers (:mod:`orchestration.lib.ingest.keys`): the fast
:func:`keyed_hash` (each distinct value hashed once) gives exactly what the reference
:func:`keyed_hash_reference` (every value hashed) gives.
"""

from __future__ import annotations

import random

import polars as pl

from orchestration.lib.ingest.keys import keyed_hash, keyed_hash_reference


def test_keyed_hash_equals_the_reference():
    rng = random.Random(3)
    values = [f"4403071990{rng.randint(0, 10**8):08d}" for _ in range(5000)]
    values += values[:500]  # repeats
    values += [None, "", " ", "x", "身份证４４０３", "a" * 1000, "\u0000", "é", None]
    rng.shuffle(values)
    series = pl.Series("id_number", values, dtype=pl.String)
    repeated = pl.Series("id_number", values[:300] * 3, dtype=pl.String)  # hashed per distinct
    for key in (b"k", b"", b"x" * 64, b"y" * 65, "密钥".encode()):
        assert keyed_hash(series, key).to_list() == keyed_hash_reference(series, key).to_list()
        assert keyed_hash(repeated, key).to_list() == keyed_hash_reference(repeated, key).to_list()
    assert keyed_hash(series, b"k").name == "id_number"
    empty = pl.Series("id_number", [], dtype=pl.String)
    assert keyed_hash(empty, b"k").to_list() == []
    nulls = pl.Series("id_number", [None, None], dtype=pl.String)
    assert keyed_hash(nulls, b"k").to_list() == [None, None]
