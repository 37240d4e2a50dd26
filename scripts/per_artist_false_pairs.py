"""Per-artist false decisions on held-out generator outputs: pooled tails vs each artist's own.

    simdetect eval --imitations ../shared/corpora/sd15-styles/imitations \
        --reference ../shared/corpora/sd15-styles/reference --index IDX \
        --held-out-fraction 0.5 --seed 0 --out /tmp/imit-s0        # embeds and caches tiles
    python scripts/per_artist_false_pairs.py /tmp/imit-s0/tiles IDX

A pooled threshold holds the rate over all (output, artist) pairs; an artist asks about
its own. For both reference splits, each artist's share of the 400 held-out outputs
decided for it at 1% is printed as a summary (mean, largest, how many artists above 2% and
3%, how many at 0), with thresholds from pooled tails and from each artist's own order
statistic. With 400 outputs an artist's rate moves in steps of 0.25 points and its
binomial spread at 1% is about 0.5.
"""

from __future__ import annotations

from grid_imitation_params import inputs_from_arguments

from simdetect.evaluation.imitations import held_out_mask
from simdetect.scoring.imitation import ImitationParams, ImitationScorer


def main() -> None:
    inputs = inputs_from_arguments()
    x_ref, groups, table, vectors = inputs.x_ref, inputs.groups, inputs.table, inputs.vectors
    usable = ~table.background
    for label, params in (
        ("pooled tails", ImitationParams()),
        ("own order statistic", ImitationParams(tail_fraction=None)),
    ):
        scorer = ImitationScorer(vectors, table, params)
        for seed in (0, 1):
            out = held_out_mask(groups, 0.5, seed)
            ref, held = x_ref[~out], x_ref[out]
            alignment = scorer.alignment_for(ref)
            null = scorer.reference_null("reference", ref, alignment, groups[~out])
            s, _ = scorer.standing(held, ref.mean(axis=0), alignment, null.population)
            t = null.decision_thresholds(0.01)
            rate = 100.0 * (s[:, usable] > t[usable][None, :]).mean(axis=0)
            print(
                f"{label}, seed {seed}: pairs {rate.mean():.2f}%, largest artist "
                f"{rate.max():.2f}%, artists above 2%: {(rate > 2).sum()}, above 3%: "
                f"{(rate > 3).sum()}, at 0: {(rate == 0).sum()} of {len(rate)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
