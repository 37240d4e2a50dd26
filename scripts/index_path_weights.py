"""The centroid weight of the index path (no generator reference), on paintings and AI output.

    python scripts/index_path_weights.py /work/meas/imit-s0/tiles /work/cache/ba128

`ImitationParams.index_centroid_weight` sets how much the artist's mean direction counts
for a suspect judged among paintings (the index null); `centroid_weight` (0.8, chosen on
sd15-styles with a generator reference) is untouched by it. For each weight (None: the
same 0.8, as before the knob), on vectors already cached by `simdetect eval`, it prints

1. paintings: `evaluate_attribution` on the CSD split of best-artworks-128, seeds 0 and 1
   (what `simdetect eval ROOT` prints as "attribution");
2. the sd15-styles imitations scanned with no reference against the whole index;
3. leave-artists-out (5 folds, seed 0): false (work, artist) decisions and false flags,

each as top-1 / top-5 / true artist decided at 1% / true artist flagged at 5% (ranked
first), percent.
"""

from __future__ import annotations

import numpy as np
from grid_imitation_params import inputs_from_arguments

from simdetect.evaluation.attribution import evaluate_attribution, judged_figures
from simdetect.evaluation.imitations import evaluate_leave_artists_out
from simdetect.scoring.imitation import ImitationParams, ImitationScorer

WEIGHTS = (None, 0.6, 0.5, 0.4, 0.3, 0.2, 0.0)


def line(f: dict[str, float]) -> str:
    keys = ("top1", "top5", "true_artist_decided", "true_artist_flagged")
    return "/".join(f"{f[k]:.1f}" for k in keys)


def no_reference(scorer: ImitationScorer, x: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """The imitations as `scan` without `--reference` judges them: the index null."""
    null = scorer.index_null()
    scores = scorer.scores(x, population=null.population)
    return judged_figures(scores, null, truth, 0.01, 0.05)[0]


def main() -> None:
    inputs = inputs_from_arguments()
    table, vectors = inputs.table, inputs.vectors
    truth = np.array([table.names.index(t) for t in inputs.truth])
    artists = [table.names[c] for c in table.codes]
    for weight in WEIGHTS:
        params = ImitationParams(index_centroid_weight=weight)
        paintings = [
            line(evaluate_attribution(vectors, table, params, seed=seed).figures) for seed in (0, 1)
        ]
        scorer = ImitationScorer(vectors, table, params)
        imitations = line(no_reference(scorer, inputs.x_imi, truth))
        lao = evaluate_leave_artists_out(vectors, artists, params)
        print(
            f"index_centroid_weight={weight}: paintings seed 0 {paintings[0]} | seed 1 "
            f"{paintings[1]} | imitations, no reference {imitations} | leave-artists-out "
            f"pairs decided {lao.pairs_decided:.2f}, works flagged {lao.works_flagged:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
