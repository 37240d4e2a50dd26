"""The index path's knobs (no generator reference), on paintings and AI output.

    cd scripts && python index_path_weights.py TILES INDEX [--hubness | --reference-outputs]

`ImitationParams.index_centroid_weight` sets how much the artist's mean direction counts
for a suspect judged among paintings (the index null), `index_hubness_k` whether the
works' cosines are hubness-corrected there; `centroid_weight` (0.8, chosen on sd15-styles
with a generator reference) is untouched by them. For each setting (None: off, as before
the knob), on vectors already cached by `simdetect eval`, it prints

1. paintings: `evaluate_attribution` on the CSD split of best-artworks-128, seeds 0 and 1
   (what `simdetect eval ROOT` prints as "attribution");
2. the sd15-styles imitations scanned with no reference against the whole index;
3. leave-artists-out (5 folds, seed 0): false (work, artist) decisions and false flags,

each as top-1 / top-5 / true artist decided at 1% / true artist flagged at 5% (ranked
first), percent. With `--reference-outputs` it prints instead, for the settings before the
knobs, the weight alone and the shipped defaults, how the 800 sd15-styles reference
outputs (styles nobody indexed) fare scanned *without* a reference: (output, artist)
pairs decided at 1% and outputs flagged for some artist at 5%.
"""

from __future__ import annotations

import sys

import numpy as np
from grid_imitation_params import Inputs, inputs_from_arguments

from simdetect.evaluation.attribution import evaluate_attribution, judged_figures
from simdetect.evaluation.imitations import evaluate_leave_artists_out
from simdetect.scoring.imitation import ImitationParams, ImitationScorer

# (index_hubness_k, index_centroid_weight); `--hubness` runs the second table
WEIGHTS = [(None, None), *((None, w) for w in (0.6, 0.5, 0.4, 0.3, 0.2, 0.0))]
HUBNESS = [(15, None), *((15, w) for w in (0.5, 0.3, 0.2)), (5, 0.3), (50, 0.3)]


def line(f: dict[str, float]) -> str:
    keys = ("top1", "top5", "true_artist_decided", "true_artist_flagged")
    return "/".join(f"{f[k]:.1f}" for k in keys)


def no_reference(scorer: ImitationScorer, x: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """The imitations as `scan` without `--reference` judges them: the index null."""
    null = scorer.index_null()
    scores = scorer.scores(x, population=null.population)
    return judged_figures(scores, null, truth, 0.01, 0.05)[0]


def false_flags_without_reference(scorer: ImitationScorer, x: np.ndarray) -> tuple[float, float]:
    """Images that imitate nobody, as `scan` without `--reference` judges them: percent of
    (image, artist) pairs decided at 1%, percent of images flagged at 5% family-wise."""
    null = scorer.index_null()
    s = scorer.scores(x, population=null.population)
    artists = ~scorer.table.background
    decided = s[:, artists] > null.decision_thresholds(0.01)[None, artists]
    flagged, _ = null.family_flags(s, 0.05)
    return 100 * float(decided.mean()), 100 * float(flagged.mean())


def reference_outputs(inputs: Inputs) -> None:
    for hubness_k, weight in [(None, None), (None, 0.5), (15, 0.3)]:
        params = ImitationParams(index_centroid_weight=weight, index_hubness_k=hubness_k)
        scorer = ImitationScorer(inputs.vectors, inputs.table, params)
        decided, flagged = false_flags_without_reference(scorer, inputs.x_ref)
        print(
            f"index_hubness_k={hubness_k} index_centroid_weight={weight}: {len(inputs.x_ref)} "
            f"reference outputs without a reference: pairs decided {decided:.2f}%, "
            f"flagged {flagged:.1f}%",
            flush=True,
        )


def main() -> None:
    inputs = inputs_from_arguments()
    if "--reference-outputs" in sys.argv:
        reference_outputs(inputs)
        return
    table, vectors = inputs.table, inputs.vectors
    truth = np.array([table.names.index(t) for t in inputs.truth])
    artists = [table.names[c] for c in table.codes]
    for hubness_k, weight in HUBNESS if "--hubness" in sys.argv else WEIGHTS:
        params = ImitationParams(index_centroid_weight=weight, index_hubness_k=hubness_k)
        paintings = [
            line(evaluate_attribution(vectors, table, params, seed=seed).figures) for seed in (0, 1)
        ]
        scorer = ImitationScorer(vectors, table, params)
        imitations = line(no_reference(scorer, inputs.x_imi, truth))
        lao = evaluate_leave_artists_out(vectors, artists, params)
        print(
            f"index_hubness_k={hubness_k} index_centroid_weight={weight}: paintings seed 0 "
            f"{paintings[0]} | seed 1 {paintings[1]} | imitations, no reference {imitations} | "
            f"leave-artists-out pairs decided {lao.pairs_decided:.2f}, "
            f"works flagged {lao.works_flagged:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
