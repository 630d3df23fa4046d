"""The filters of the CNN's convolutions and of the pruning stages (one rule, no imports).

Convolution k (0-based) of a depth-d network has 16 * 2**k filters (the paper's doubling,
capped at ``max_filters`` in deep sweeps); the last one may be overridden. Pruning halves
the last layer's N from its start down to a final count (paper App. C: 256 -> 4).
"""

BASE_FILTERS = 16


def filter_counts(depth: int, base_filters: int = BASE_FILTERS, final_filters: int | None = None,
                  max_filters: int | None = None) -> list[int]:
    """Filters per convolution: base * 2**k (capped at max_filters), last one overridable."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, not {depth}")
    counts = [base_filters * 2 ** k for k in range(depth)]
    if max_filters is not None:
        counts = [min(c, max_filters) for c in counts]
    if final_filters is not None:
        counts[-1] = int(final_filters)
    return counts


def pruning_stages(start_filters: int, final_filters: int = 4) -> list[int]:
    """Filter counts of the training stages: 256, 128, ..., 2 * final_filters.

    Each pruning step halves N; the step after the last stage reaches final_filters.
    Raises ValueError (naming both counts) when halving does not lead there.
    """
    counts, n = [], int(start_filters)
    if final_filters < 2 or n <= final_filters:
        raise ValueError(f"cannot prune {start_filters} filters down to {final_filters}: "
                         "pruning needs more filters than it leaves, and at least 2 left")
    while n > final_filters:
        counts.append(n)
        if n % 2:
            raise ValueError(f"cannot prune {start_filters} filters down to {final_filters} "
                             f"by halving ({n} is odd)")
        n //= 2
    if n != final_filters:
        raise ValueError(f"cannot prune {start_filters} filters down to {final_filters} by "
                         f"halving (it reaches {n})")
    return counts
