/*
 * fi_philox.h -- Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC11) and fastinit's one mapping from
 * (seed, element index) to generator words.
 *
 * THE STREAM (version 1; fastinit.STREAM_VERSION).  Changing anything below changes users' weights:
 * treat it like numpy's NEP 19 and bump STREAM_VERSION with a changelog entry.
 *
 *   key  = SeedSequence(seed).generate_state(2, uint32)            (two 32-bit key words)
 *   ctr  = { block_lo, block_hi, attempt, tag }                     (four 32-bit counter words)
 *
 *   block    64-bit index of a group of consecutive elements (block_lo = low 32 bits).
 *   attempt  0 for the first draw; rejection sampling uses 1, 2, ... for retries of the same
 *            element, so a retry never consumes numbers that belong to another element.
 *   tag      FI_TAG_MAIN (0) for the block-structured streams below, FI_TAG_ELEMENT (1) for the
 *            per-element streams of the tail samplers (there block = element index).
 *
 * Element i of the main stream (tag 0) consumes:
 *   float32 (and float16/bfloat16, computed in float32):
 *      block = i / 4, word w = i % 4 of the four output words.
 *      uniform: u = (w >> 8) * 2^-24 in [0, 1).
 *      normal:  words (0,1) make the Box-Muller pair for elements 4b, 4b+1 and words (2,3) the pair
 *               for 4b+2, 4b+3; the first word of a pair gives the radius, the second the angle;
 *               the even element takes r*cos(theta), the odd one r*sin(theta).
 *   float64:
 *      block = i / 2; the 64-bit numbers are U0 = w1:w0 and U1 = w3:w2 (high:low).
 *      uniform: element 2b uses U0, element 2b+1 uses U1, u = (U >> 11) * 2^-53 in [0, 1).
 *      normal:  one Box-Muller pair per block: U0 gives the radius, U1 the angle; element 2b takes
 *               r*cos(theta), element 2b+1 takes r*sin(theta).
 *   Box-Muller: u1 = (top bits + 1) * 2^-bits in (0, 1], r = sqrt(-2 log u1); the angle's integer n
 *   (24 or 53 bits) is split exactly into a quadrant k and an offset d in [-1/8, 1/8) of a turn,
 *   so sin/cos only ever see |x| <= pi/4 (fi_math.h).
 *
 * Because every element is a pure function of (key, i), the output never depends on how the work
 * is cut into threads, chunks, files or machines.
 */
#ifndef FASTINIT_PHILOX_H
#define FASTINIT_PHILOX_H

#include <stdint.h>

#define FI_PHILOX_M0 0xD2511F53u
#define FI_PHILOX_M1 0xCD9E8D57u
#define FI_PHILOX_W0 0x9E3779B9u
#define FI_PHILOX_W1 0xBB67AE85u

#define FI_TAG_MAIN 0u
#define FI_TAG_ELEMENT 1u

/* Philox4x32 with R rounds: the first round uses the key as given, each later round bumps it. */
static inline void fi_philox4x32_r(int rounds, const uint32_t ctr[4], const uint32_t key[2],
                                   uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < rounds; r++) {
        if (r > 0) {
            k0 += FI_PHILOX_W0;
            k1 += FI_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)FI_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)FI_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static inline void fi_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    fi_philox4x32_r(10, ctr, key, out);
}

/* The four words of one block of fastinit's stream. */
static inline void fi_stream_words(const uint32_t key[2], uint64_t block, uint32_t attempt,
                                   uint32_t tag, uint32_t out[4])
{
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), attempt, tag};
    fi_philox4x32_10(ctr, key, out);
}

#endif
