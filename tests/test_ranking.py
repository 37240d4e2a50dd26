"""The ranking space nearest works are listed in (`simdetect.scoring.ranking`)."""

from __future__ import annotations

import numpy as np
import pytest

from simdetect.scoring.ranking import RankingParams, RankingSpace, fit_ranking


def _artists(rng: np.random.Generator, n_artists: int, per: int, dim: int = 24) -> tuple:
    """Unit vectors: three shared nuisance directions vary a lot within every artist (as
    subject and lighting do), the artist's own offset little, so plain cosine is fooled
    and a space learned from the labels is much less."""
    nuisance = rng.normal(size=(3, dim))
    centres = rng.normal(size=(n_artists, dim)) * 0.4
    rows, codes = [], []
    for a in range(n_artists):
        for _ in range(per):
            shared = rng.normal(size=3) @ nuisance * 2.0
            rows.append(centres[a] + shared + rng.normal(size=dim) * 0.1)
            codes.append(a)
    x = np.asarray(rows)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.asarray(codes)


def _top1(scores: np.ndarray, codes: np.ndarray, truth: np.ndarray) -> float:
    return float((codes[scores.argmax(axis=1)] == truth).mean())


def test_learned_space_ranks_works_of_the_same_artist_first() -> None:
    x, codes = _artists(np.random.default_rng(3), 6, 16)
    held = np.arange(len(x)) % 16 >= 12  # four new works per artist query the other twelve
    space = fit_ranking(x[~held], codes[~held])
    assert space.fitted and space.lda.projection.shape[1] == 5  # 6 artists: 5 directions
    assert space.works.dtype == np.float32 and space.works.shape[0] == (~held).sum()
    learned = _top1(space.scores(x[held]), codes[~held], codes[held])
    plain = _top1(x[held] @ x[~held].T, codes[~held], codes[held])
    assert learned >= plain + 0.25  # measured: 0.67 against 0.29


def test_an_exact_duplicate_of_a_work_comes_first() -> None:
    x, codes = _artists(np.random.default_rng(5), 4, 10)
    space = fit_ranking(x, codes)
    order = np.argsort(-space.scores(x[[3, 17, 33]]), axis=1)
    assert order[:, 0].tolist() == [3, 17, 33]


def test_stored_and_read_back_it_orders_identically() -> None:
    x, codes = _artists(np.random.default_rng(7), 5, 9)
    space = fit_ranking(x, codes, RankingParams(lda_dim=3, lda_weight=0.7), "snap")
    back = RankingSpace.from_bytes(space.to_bytes(), x)
    assert back.params == space.params and back.snapshot_digest == "snap"
    assert back.digest() == space.digest()
    np.testing.assert_array_equal(back.scores(x[:7]), space.scores(x[:7]))
    with pytest.raises(ValueError, match="holds 45 works, the index 44"):
        RankingSpace.from_bytes(space.to_bytes(), x[:44])


def test_one_artist_or_none_still_orders_by_a_centred_cosine() -> None:
    x, codes = _artists(np.random.default_rng(9), 1, 8)
    space = fit_ranking(x, codes)
    assert not space.fitted
    assert np.isfinite(space.scores(x[:2])).all()
    empty = fit_ranking(np.zeros((0, 24)), np.zeros(0, dtype=int))
    assert empty.works.shape[0] == 0


def test_digest_follows_every_knob() -> None:
    x, codes = _artists(np.random.default_rng(11), 4, 8)
    digests = {
        fit_ranking(x, codes, p).digest()
        for p in (
            RankingParams(),
            RankingParams(shrinkage=0.3),
            RankingParams(lda_dim=2),
            RankingParams(lda_weight=0.2),
            RankingParams(hubness_k=5),
        )
    }
    assert len(digests) == 5


@pytest.mark.parametrize(
    "kwargs",
    [{"shrinkage": 0.0}, {"shrinkage": 1.5}, {"lda_dim": 0}, {"hubness_k": 0}, {"lda_weight": -1}],
)
def test_impossible_params_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RankingParams(**kwargs)
