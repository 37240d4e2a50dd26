"""Default settings that the command line shows in its help, kept free of heavy imports.

The library modules read their defaults from here too, so there is one value each;
`simdetect --help` can then list them without loading numpy, FAISS or torch.
"""

from __future__ import annotations

DEFAULT_MAX_PIXELS = 100_000_000  # images above this are refused (decompression bombs)
# Per image: the most memory one decode may use (decoded pixels plus every conversion on the
# way to 8-bit RGB); images that would need more are reduced (simdetect.io.decoding).
DEFAULT_MAX_DECODE_BYTES = 1024 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024  # the most bytes read from one input file
DEFAULT_TARGET_FPR = 0.01  # false-positive rate the calibrated decision aims at
DEFAULT_FAMILY_FPR = 0.05  # family-wise rate of 'flagged for any artist'
# An audit's own batch as its generator reference (simdetect.audit.batch_reference): the
# first inputs embedded for it, and the fewest readable ones it may hold.
BATCH_REFERENCE = "batch"  # the reference name that means "the audit's own inputs"
DEFAULT_BATCH_REFERENCE_SIZE = 2000
BATCH_REFERENCE_MIN = 200
DEFAULT_K = 3  # works averaged per artist
DEFAULT_HUBNESS_K = 15  # neighbours in the CSLS radius
DEFAULT_COMMIT_EVERY = 256  # new works between commits while indexing

ANN_AUTO = "auto"
ANN_TYPES = ("flat", "hnsw", "ivf-flat", "ivf-sq8", "ivf-pq")
DEFAULT_APPROX_THRESHOLD = 100_000
DEFAULT_MIN_RECALL = 0.95
DEFAULT_QUERIES = 1000

# simdetect serve: measured on two cores (effnet-style, 32 clients), batches of 8 served
# 39 requests/s, of 16 only 32. A model thread's glibc arena mmaps activations over
# 64 MiB afresh on every pass; MALLOC_ARENA_MAX=1 in the environment lifts that
# (44 requests/s at 16).
DEFAULT_MAX_BATCH = 8
# What all of a service's concurrent decodes may hold together (simdetect.io.budget).
DEFAULT_DECODE_MEMORY_MB = 1024.0
