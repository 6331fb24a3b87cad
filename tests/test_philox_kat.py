"""The generator: Random123's known-answer vectors, and the documented (seed, index) mapping."""

import pathlib

import numpy as np
import pytest

from fastinit import _testing
from fastinit._seeding import key_from_seed

KAT = pathlib.Path(__file__).parent / "data" / "philox_kat.txt"


def kat_rows(name):
    rows = []
    for line in KAT.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == name and parts[1] == "10":
            words = [int(w, 16) for w in parts[2:]]
            rows.append((words[0:4], words[4:6], words[6:10]))
    return rows


def test_kat_file_has_the_three_philox4x32_rows():
    assert len(kat_rows("philox4x32")) == 3


@pytest.mark.parametrize("ctr,key,expected", kat_rows("philox4x32"))
def test_philox4x32_10_known_answers(ctr, key, expected):
    assert _testing.philox4x32_10(ctr, key) == tuple(expected)


M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox_py(ctr, key, rounds=10):
    """Independent pure-Python Philox4x32 (Random123 philox.h), to cross-check the C code."""
    c = list(ctr)
    k0, k1 = key
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & MASK, p1 & MASK, ((p0 >> 32) ^ c[3] ^ k1) & MASK,
             p0 & MASK]
    return tuple(c)


def test_c_generator_matches_python_reference_on_random_inputs():
    rng = np.random.default_rng(7)
    for _ in range(200):
        ctr = [int(x) for x in rng.integers(0, 2**32, 4)]
        key = [int(x) for x in rng.integers(0, 2**32, 2)]
        assert _testing.philox4x32_10(ctr, key) == philox_py(ctr, key)


def test_key_comes_from_seed_sequence():
    k = np.random.SeedSequence(1234).generate_state(2, np.uint32)
    assert key_from_seed(1234) == (int(k[0]), int(k[1]))
    assert key_from_seed(0) != key_from_seed(1)


@pytest.mark.parametrize("start", [0, 1, 3, 2**32 * 4 - 2])
def test_uniform_float32_follows_the_documented_mapping(start):
    """Element i: block i // 4, word i % 4, u = (w >> 8) * 2**-24 (fi_philox.h)."""
    from fastinit import Stream

    seed = 99
    key = key_from_seed(seed)
    out = Stream("uniform", seed, low=0.0, high=1.0).fill(np.empty(9, np.float32), start)
    for j, v in enumerate(out):
        i = start + j
        b = i // 4
        w = philox_py([b & MASK, b >> 32, 0, 0], key)[i % 4]
        assert v == np.float32((w >> 8) * 2.0**-24)


def test_uniform_float64_follows_the_documented_mapping():
    from fastinit import Stream

    seed = 5
    key = key_from_seed(seed)
    out = Stream("uniform", seed, low=0.0, high=1.0).fill(np.empty(7, np.float64), 11)
    for j, v in enumerate(out):
        i = 11 + j
        w = philox_py([(i // 2) & MASK, (i // 2) >> 32, 0, 0], key)
        U = (w[2 * (i % 2) + 1] << 32) | w[2 * (i % 2)]
        assert v == (U >> 11) * 2.0**-53
