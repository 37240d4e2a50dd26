"""The pure maths of issue 11 on synthetic data: discriminant, alignment, nulls, family-wise."""

from __future__ import annotations

import numpy as np
import pytest

from simdetect.scoring.aggregate import ArtistTable, per_artist_topk
from simdetect.scoring.alignment import leave_one_out_means, reference_stats
from simdetect.scoring.contrastive import (
    Null,
    contrastive_margin,
    family_verdict,
    order_statistic_threshold,
)
from simdetect.scoring.discriminant import (
    Discriminant,
    DiscriminantParams,
    _whitening,
    fit_discriminant,
)


def _norm(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _styles(rng: np.random.Generator, n_artists: int, per: int, d: int = 32, noise: float = 1.0):
    """Artists differ in a few directions; a large shared nuisance varies in others."""
    centres = np.zeros((n_artists, d))
    centres[:, :4] = rng.normal(size=(n_artists, 4)) * 0.6
    centres -= centres.mean(axis=0)  # the styles' own mean is the origin of both domains
    nuisance = np.zeros(d)
    nuisance[4:] = 3.0
    x, codes = [], []
    for a in range(n_artists):
        e = rng.normal(size=(per, d)) * 0.2
        e[:, 4:] += rng.normal(size=(per, d - 4)) * noise * nuisance[4:]
        x.append(centres[a] + e)
        codes += [a] * per
    return np.vstack(x), np.array(codes), centres


def test_margin_is_positive_only_for_the_winner_and_nan_aware() -> None:
    s = np.array([[0.9, 0.5, 0.2], [0.1, np.nan, 0.3]])
    m = contrastive_margin(s)
    np.testing.assert_allclose(m[0], [0.4, -0.4, -0.7])
    assert np.isnan(m[1, 1])
    np.testing.assert_allclose(m[1, [0, 2]], [-0.2, 0.2])
    assert np.isnan(contrastive_margin(np.array([[0.5]]))).all()


def test_discriminant_learns_the_directions_that_separate_artists() -> None:
    rng = np.random.default_rng(0)
    x, codes, _ = _styles(rng, 8, 40)
    q, qc, _ = x[::5], codes[::5], None
    db_mask = np.ones(len(x), bool)
    db_mask[::5] = False
    table = ArtistTable.build([str(c) for c in codes[db_mask]], ["artist"] * int(db_mask.sum()))

    def top1(space_q: np.ndarray, space_db: np.ndarray) -> float:
        per = per_artist_topk(space_q @ space_db.T, table, 3)
        return float(np.mean(np.array(table.names)[per.argmax(1)] == qc.astype(str)))

    plain = top1(_norm(q), _norm(x[db_mask]))
    disc = fit_discriminant(x[db_mask], codes[db_mask], DiscriminantParams(shrinkage=0.01))
    learned = top1(disc.transform(q), disc.transform(x[db_mask]))
    assert disc.fitted and disc.n_artists == 8
    assert learned > plain + 0.2, (plain, learned)
    # fully shrunk: whitening degenerates to a scaled identity, i.e. centred cosine
    ident = fit_discriminant(x[db_mask], codes[db_mask], DiscriminantParams(shrinkage=1.0))
    np.testing.assert_allclose(ident.transform(q), _norm(q - ident.mean), atol=1e-9)
    low = fit_discriminant(x[db_mask], codes[db_mask], DiscriminantParams(dim=3))
    assert low.transform(q).shape == (len(q), 3)
    assert disc.digest() != ident.digest()


@pytest.mark.parametrize(
    "weighting, dim", [("artist", None), ("work", None), ("artist", 4), ("work", 5)]
)
def test_fewer_works_than_dimensions_whiten_by_svd_to_the_same_cosines(
    weighting: str, dim: int | None
) -> None:
    # 48 works in 300 dimensions take the thin-SVD path; the full eigendecomposition of
    # the same scatter must give the same cosines (the two differ by a rotation).
    rng = np.random.default_rng(4)
    x = rng.normal(size=(48, 300))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    codes = np.repeat(np.arange(6), 8)
    params = DiscriminantParams(0.5, dim=dim, weighting=weighting)
    fast = fit_discriminant(x, codes, params)
    groups = [x[codes == a] for a in range(6)]
    means = [g.mean(axis=0) for g in groups]
    full = _whitening(groups, means, params)
    if dim is not None:
        m = np.asarray(means) - np.mean(means, axis=0)
        evals, evecs = np.linalg.eigh((m @ full).T @ (m @ full))
        full = full @ evecs[:, np.argsort(evals)[::-1][:dim]]
    assert fast.projection.shape == (300, 300 if dim is None else dim)
    slow = Discriminant(params, fast.mean, full, 48, 6)
    q = rng.normal(size=(10, 300))
    np.testing.assert_allclose(
        fast.transform(q) @ fast.transform(x).T, slow.transform(q) @ slow.transform(x).T, atol=1e-10
    )


def test_discriminant_needs_two_artists() -> None:
    x = np.random.default_rng(1).normal(size=(10, 5))
    d = fit_discriminant(x, np.zeros(10, int))
    assert not d.fitted
    np.testing.assert_allclose(d.transform(x), _norm(x - x.mean(0)))
    with pytest.raises(ValueError):
        DiscriminantParams(shrinkage=0.0)


def test_reference_centring_removes_a_generator_offset() -> None:
    rng = np.random.default_rng(2)
    x, codes, centres = _styles(rng, 6, 30, noise=0.1)
    offset = np.zeros(x.shape[1])
    offset[10] = 5.0  # the generator's texture, far larger than any style difference
    imitations = centres + offset + rng.normal(size=centres.shape) * 0.1
    reference = rng.normal(size=(40, x.shape[1])) * 0.3 + offset
    ref = reference_stats("gen", reference)
    assert ref.n == 40 and ref.digest() == reference_stats("gen", reference).digest()
    lib = _norm(x - x.mean(0))
    table = ArtistTable.build([str(c) for c in codes], ["artist"] * len(codes))
    aligned = per_artist_topk(_norm(imitations - ref.mean) @ lib.T, table, 3).argmax(1)
    naive = per_artist_topk(_norm(imitations - x.mean(0)) @ lib.T, table, 3).argmax(1)
    truth = np.arange(6)
    assert (aligned == truth).mean() > (naive == truth).mean()
    assert (aligned == truth).mean() >= 5 / 6
    loo = leave_one_out_means(reference)
    np.testing.assert_allclose(loo[3], np.delete(reference, 3, axis=0).mean(0))
    with pytest.raises(ValueError):
        leave_one_out_means(reference[:1])


def test_second_order_alignment_undoes_a_generator_spread() -> None:
    """A generator that flattens style differences and varies wildly in its own directions."""
    from simdetect.scoring.alignment import CORAL_MIN_REFERENCE, second_order_alignment
    from simdetect.scoring.imitation import ImitationParams, ImitationScorer

    rng = np.random.default_rng(8)
    x, codes, centres = _styles(rng, 8, 40, noise=0.1)
    d = x.shape[1]
    table = ArtistTable.build([str(c) for c in codes], ["artist"] * len(codes))

    def generate(styles: np.ndarray) -> np.ndarray:
        out = styles * 0.3 + rng.normal(size=styles.shape) * 0.03
        out[:, 4:12] += rng.normal(size=(len(out), 8)) * 1.5  # its own, prompt-driven spread
        out[:, 20] += 3.0  # and its offset
        return out

    truth = np.repeat(np.arange(8), 5)
    imitations = generate(centres[truth])
    mix = rng.dirichlet(np.ones(8) * 0.3, size=160)
    reference = generate(mix @ centres + rng.normal(size=(160, d)) * 0.3 * (np.arange(d) < 4))

    def top1(params: ImitationParams) -> float:
        scorer = ImitationScorer(x, table, params)
        alignment = scorer.alignment_for(reference)
        s = scorer.scores(imitations, reference.mean(axis=0), alignment)
        return float(np.mean(s.argmax(axis=1) == truth))

    mean_only = top1(ImitationParams(shrinkage=0.5, coral_rank=None))
    second_order = top1(ImitationParams(shrinkage=0.5, coral_rank=d, coral_shrinkage=0.1))
    assert second_order > mean_only + 0.2
    assert second_order >= 0.7

    scorer = ImitationScorer(x, table, ImitationParams(coral_rank=16))
    assert scorer.subspace is not None and scorer.subspace.rank == 16
    # a reference too small to estimate its spread: the mean alone is removed
    assert (
        second_order_alignment(scorer.subspace, reference[: CORAL_MIN_REFERENCE - 1], 0.5) is None
    )
    al = scorer.alignment_for(reference)
    assert al is not None and al.basis.shape == (d, 16)
    # directions outside the subspace pass through unchanged
    outside = np.eye(d) - al.basis @ al.basis.T
    v = rng.normal(size=(3, d))
    np.testing.assert_allclose(al.apply(v) @ outside, v @ outside, atol=1e-9)


def test_order_statistic_threshold_keeps_the_promised_rate() -> None:
    rng = np.random.default_rng(3)
    null = rng.normal(size=999)
    t = order_statistic_threshold(null, 0.01)
    assert t is not None
    assert np.mean(null > t) <= 0.01
    assert order_statistic_threshold(null[:50], 0.01) is None  # needs 99
    fresh = rng.normal(size=200_000)
    assert abs(np.mean(fresh > t) - 0.01) < 0.004


def test_family_threshold_controls_any_artist_flags_where_per_pair_does_not() -> None:
    rng = np.random.default_rng(4)
    n_null, n_fresh, n_art = 600, 4000, 40
    null = Null.from_matrix("reference", "gen", rng.normal(size=(n_null, n_art)))
    fresh = rng.normal(size=(n_fresh, n_art))
    p = null.p_values(fresh)
    per_pair_any = np.mean((p <= 0.01).any(axis=1))
    assert per_pair_any > 0.25  # summing per-pair decisions over-flags
    names = [f"a{i}" for i in range(n_art)]
    flags = [family_verdict(row, names, null, 0.05).flagged for row in fresh]
    rate = float(np.mean(flags))
    assert 0.02 < rate < 0.075, rate
    # a clear imitation of artist 7 is flagged, and for artist 7
    strong = rng.normal(size=(1, n_art))
    strong[0, 7] = 6.0
    v = family_verdict(strong[0], names, null, 0.05)
    assert v.flagged and v.flagged_artist == "a7"
    small = Null.from_matrix("reference", "gen", rng.normal(size=(10, n_art)))
    undecided = family_verdict(strong[0], names, small, 0.05)
    assert undecided.flagged is None and "too few" in (undecided.reason or "")
    assert "gen" in null.describe() and null.size == n_null


def _generator_world(seed: int = 5):
    """An index of 10 artists, a generator that adds its own offset, 40 reference prompts."""
    rng = np.random.default_rng(seed)
    x, codes, centres = _styles(rng, 10, 30, noise=0.1)
    d = x.shape[1]
    offset = np.zeros(d)
    offset[12] = 4.0
    imitations = np.repeat(centres, 3, axis=0) + offset + rng.normal(size=(30, d)) * 0.15
    truth = [str(c) for c in np.repeat(np.arange(10), 3)]
    other = rng.normal(size=(40, d)) * 0.5
    other[:, 4:] *= 0.2
    reference = np.repeat(other, 2, axis=0) + offset + rng.normal(size=(80, d)) * 0.05
    groups = np.repeat(np.arange(40), 2)
    table = ArtistTable.build([str(c) for c in codes], ["artist"] * len(codes))
    return x, table, imitations, truth, reference, groups


def test_imitation_harness_reports_attribution_and_false_flags() -> None:
    from simdetect.evaluation.imitations import evaluate_imitations, evaluate_leave_artists_out
    from simdetect.scoring.imitation import ImitationParams, ImitationScorer

    x, table, imitations, truth, reference, groups = _generator_world()
    scorer = ImitationScorer(x, table, ImitationParams(shrinkage=0.05))
    res = evaluate_imitations(
        scorer, imitations, truth, reference, groups, target_fpr=0.05, family_fpr=0.1
    )
    f = res.figures
    assert res.held_out == "leave-one-group-out" and res.n_held_out == 80
    assert f["top1"] >= 80.0 and f["top5"] == 100.0
    assert f["true_artist_decided"] >= 50.0
    assert f["held_out_pairs_decided"] <= 10.0 and f["held_out_flagged"] <= 20.0
    assert set(res.per_artist["artist"]) == set(truth)
    split = evaluate_imitations(
        scorer,
        imitations,
        truth,
        reference[groups < 20],
        groups[groups < 20],
        held_out=reference[groups >= 20],
        target_fpr=0.05,
        family_fpr=0.1,
    )
    assert split.held_out == "split" and split.n_held_out == 40
    with pytest.raises(ValueError, match="does not hold"):
        evaluate_imitations(scorer, imitations[:1], ["nobody"], reference, groups)
    lao = evaluate_leave_artists_out(
        x, [table.names[c] for c in table.codes], ImitationParams(), folds=2, target_fpr=0.05
    )
    assert len(lao.per_fold) == 2 and 0.0 <= lao.pairs_decided <= 15.0


def test_state_round_trips_and_the_judge_decides_with_the_reference_null() -> None:
    from simdetect.scoring.alignment import reference_stats
    from simdetect.scoring.imitation import (
        ImitationJudge,
        ImitationParams,
        ImitationScorer,
        ImitationState,
        compute_state,
        genuine_by_artist,
    )

    x, table, imitations, truth, reference, _ = _generator_world()
    state, scorer = compute_state("snap", x, table, ImitationParams(shrinkage=0.05))
    back = ImitationState.from_bytes(state.to_bytes())
    assert back.digest() == state.digest()
    np.testing.assert_array_equal(back.index_null_raw, state.index_null_raw)
    np.testing.assert_array_equal(back.genuine.topk, state.genuine.topk)
    np.testing.assert_array_equal(back.genuine.centroid, state.genuine.centroid)
    again = ImitationScorer(x, table, back.params, back.discriminant)
    np.testing.assert_array_equal(again.scores(imitations), scorer.scores(imitations))
    ref = reference_stats("gen", reference)
    null = scorer.reference_null("gen", reference)
    genuine = genuine_by_artist(state, scorer, null.population, reference=True)
    judge = ImitationJudge(scorer, null, genuine, ref.mean)
    s, closeness = judge.standing(imitations)
    np.testing.assert_array_equal(judge.scores(imitations), s)
    assert closeness is not None
    decided = [judge.judge(s[i], table.names.index(t), 0.05).decision for i, t in enumerate(truth)]
    assert np.mean(decided) >= 0.5
    j = judge.judge(s[0], 0, 0.05)
    assert j.p_value is not None and 0 < j.p_value <= 1 and j.threshold is not None
    assert j.genuine_percentile is not None
    fam = judge.family(s[0], 0.1, closeness[0])
    assert fam.threshold is not None and fam.statistic is not None
    tiny = ImitationJudge(scorer, scorer.reference_null("gen", reference[:6]), [], ref.mean)
    assert tiny.judge(s[0], 0, 0.01).decision is None


def test_genuine_percentiles_read_the_artists_works_on_the_nulls_scale() -> None:
    """With a standardising reference a suspect's margin is in units of the generator's
    spread; the artist's own works must be read on that scale too, or the genuine
    percentile compares a standardised margin with raw cosine margins (mostly 100)."""
    from simdetect.scoring.imitation import ImitationParams, compute_state, genuine_by_artist

    x, table, imitations, truth, reference, _ = _generator_world()
    state, scorer = compute_state("snap", x, table, ImitationParams(shrinkage=0.05))
    null = scorer.reference_null("gen", reference)
    assert null.population is not None
    s = scorer.standing(imitations, reference.mean(axis=0), None, null.population)[0]
    own = [table.names.index(t) for t in truth]

    def percentiles(genuine: list[np.ndarray]) -> np.ndarray:
        return np.array([100.0 * np.mean(genuine[a] < s[i, a]) for i, a in enumerate(own)])

    on_scale = percentiles(genuine_by_artist(state, scorer, null.population, reference=True))
    raw = percentiles(genuine_by_artist(state, scorer, reference=True))
    # imitations fall among the artist's works on the null's scale ...
    assert np.mean(on_scale >= 100) < 0.2 and 20 < np.median(on_scale) < 95
    # ... while against raw margins most sit above every one of them
    assert np.mean(raw >= 100) > 0.5


def test_reference_sets_are_stored_atomically_and_bound_to_the_backbone(tmp_path) -> None:
    from simdetect.backbones.base import Fingerprint
    from simdetect.index.references import (
        ReferenceSetError,
        list_references,
        load_reference,
        remove_reference,
        save_reference,
    )

    fp = Fingerprint("effnet-style", "a" * 64, "resize", "v1", 4)
    other = Fingerprint("clip", "b" * 64, "resize", "v1", 4)
    vecs = np.eye(4, dtype=np.float32)[[0, 1, 2, 2]]
    ref = save_reference(tmp_path, "gen-1", fp, vecs, ["h0", "h1", "h2", "h2"], list("abcd"))
    assert ref.count == 3  # the same bytes twice are kept once
    listed = list_references(tmp_path)
    assert listed["gen-1"]["count"] == 3 and listed["gen-1"]["digest"] == ref.digest()
    back = load_reference(tmp_path, "gen-1", fp)
    np.testing.assert_array_equal(back.vectors, ref.vectors)
    assert back.paths == ["a", "b", "c"] and back.digest() == ref.digest()
    with pytest.raises(ReferenceSetError, match="embedded with effnet-style"):
        load_reference(tmp_path, "gen-1", other)
    with pytest.raises(ReferenceSetError, match=r"no reference set 'nope'.*gen-1"):
        load_reference(tmp_path, "nope", fp)
    for bad in ("batch", "../x", "", "a b"):
        with pytest.raises(ReferenceSetError, match="not allowed"):
            save_reference(tmp_path, bad, fp, vecs, ["h"] * 4, list("abcd"))
    assert not list((tmp_path / "references").glob("*.tmp*"))
    assert remove_reference(tmp_path, "gen-1") and list_references(tmp_path) == {}
    assert not remove_reference(tmp_path, "gen-1")


def test_a_reference_file_missing_header_fields_is_refused_naming_it(tmp_path) -> None:
    import json

    from simdetect.backbones.base import Fingerprint
    from simdetect.index.references import ReferenceSetError, load_reference, save_reference

    fp = Fingerprint("effnet-style", "a" * 64, "resize", "v1", 4)
    save_reference(tmp_path, "gen-1", fp, np.eye(4, dtype=np.float32), list("wxyz"), list("abcd"))
    path = tmp_path / "references" / "gen-1.npz"
    header = np.frombuffer(json.dumps({"name": "gen-1"}).encode(), np.uint8)
    np.savez(path, vectors=np.eye(4, dtype=np.float32), header=header)
    with pytest.raises(ReferenceSetError, match=r"gen-1\.npz: unreadable reference set"):
        load_reference(tmp_path, "gen-1", fp)


def test_held_out_split_keeps_source_files_whole_and_is_seeded() -> None:
    from simdetect.evaluation.imitations import held_out_mask

    groups = np.repeat([f"file_{i:02d}" for i in range(10)], 4)  # 4 tiles per source file
    out = held_out_mask(groups, 0.5, seed=0)
    assert out.sum() == 20  # five whole files of ten
    for g in np.unique(groups):
        assert len(set(out[groups == g])) == 1  # a file is never split between the halves
    np.testing.assert_array_equal(out, held_out_mask(groups, 0.5, seed=0))
    assert not np.array_equal(out, held_out_mask(groups, 0.5, seed=1))
    assert held_out_mask(groups, 0.01, seed=0).sum() == 4  # at least one file


def test_pooled_tails_hold_the_pair_rate_across_artists_of_unequal_spread() -> None:
    """Artists whose null scores spread 1x to 4x: one pooled threshold, each on its own scale."""
    from simdetect.scoring.contrastive import PooledTail

    rng = np.random.default_rng(11)
    scales = np.linspace(1.0, 4.0, 30)
    null_scores = rng.normal(size=(400, 30)) * scales
    null = Null.from_matrix("reference", "gen", null_scores, tail_fraction=0.1)
    assert null.tail is not None and "pooled" in null.describe()
    fresh = rng.normal(size=(20_000, 30)) * scales
    thresholds = np.array([null.threshold(a, 0.01) for a in range(30)])
    # thresholds follow each artist's spread, and the pooled rate holds on fresh images
    assert np.corrcoef(thresholds, scales)[0, 1] > 0.95
    assert abs(float(np.mean(fresh > thresholds)) - 0.01) < 0.004
    # p-values agree with the thresholds: p <= 1% exactly above them (up to ties)
    t7 = thresholds[7]
    assert null.p_value(7, t7 + 1e-9) <= 0.0101 and null.p_value(7, t7 - 0.05) > 0.01
    assert 0.0 < null.rate_above(7, t7) <= 0.01
    # each tail image is standardised without itself: the pool holds one value per pair
    tail = PooledTail.fit(null_scores, 0.1)
    assert len(tail.pooled) == null_scores.size
    one = null_scores[:, 3]
    top = np.sort(one)[::-1]
    k = 40
    mu, sd = top[1 : k + 1].mean(), top[1 : k + 1].std()
    assert np.isclose(tail.pooled.max() >= (top[0] - mu) / sd, True)
    assert np.any(np.isclose(tail.pooled, (top[0] - mu) / sd))
    # an artist whose own null is too small for the rate is not decided, pooled or not
    small = Null.from_matrix("reference", "gen", null_scores[:50], tail_fraction=0.1)
    assert small.threshold(0, 0.01) is None and small.decision_threshold(0, 0.01) is None


def test_standardising_each_artist_removes_a_hub_artists_head_start() -> None:
    """An artist with diffuse works is near every suspect; on its own scale it is not."""
    from simdetect.scoring.imitation import ImitationParams, ImitationScorer

    rng = np.random.default_rng(12)
    x, codes, centres = _styles(rng, 10, 30, noise=0.1)
    d = x.shape[1]
    hub = rng.normal(size=(150, d))  # artist 10: many works, everywhere
    x = np.vstack([x, hub])
    codes = np.concatenate([codes, np.full(150, 10)])
    table = ArtistTable.build([str(c) for c in codes], ["artist"] * len(codes))
    imitations = np.repeat(centres, 3, axis=0) + rng.normal(size=(30, d)) * 0.8
    truth = np.array([table.names.index(str(c)) for c in np.repeat(np.arange(10), 3)])
    reference = rng.normal(size=(200, d)) * 0.8

    def attribution(standardise: bool) -> tuple[float, float]:
        params = ImitationParams(shrinkage=None, centroid_weight=0.0, standardise=standardise)
        scorer = ImitationScorer(x, table, params)
        null = scorer.reference_null("gen", reference)
        assert (null.population is not None) == standardise
        s = scorer.scores(imitations, reference.mean(axis=0), None, null.population)
        top = s.argmax(axis=1)
        return float(np.mean(top == truth)), float(np.mean(top == table.names.index("10")))

    raw_top1, raw_hub = attribution(False)
    std_top1, std_hub = attribution(True)
    assert raw_hub > 0.25  # the hub wins suspects it has nothing to do with
    assert std_hub < raw_hub / 3 and std_top1 > raw_top1 + 0.1


@pytest.mark.parametrize("seed", [0, 1])
def test_a_cross_fitted_reference_null_keeps_the_family_rate_where_self_alignment_does_not(
    seed: int,
) -> None:
    """Aligned by a covariance it took part in, a reference output looks more typical of its
    generator than a new output does; aligned by the other folds, it does not."""
    from simdetect.scoring.imitation import ImitationParams, ImitationScorer

    rng = np.random.default_rng(seed)
    x, codes, _ = _styles(rng, 12, 40, d=128, noise=0.5)
    table = ArtistTable.build([str(c) for c in codes], ["artist"] * len(codes))
    mixing = rng.normal(size=(128, 128)) * 0.3

    def generator(n: int) -> np.ndarray:
        return rng.normal(size=(n, 128)) @ mixing + 2.0

    reference, fresh = generator(130), generator(3000)
    rates = {}
    for folds in (None, 10):
        params = ImitationParams(
            shrinkage=None, coral_rank=110, coral_shrinkage=0.1, null_folds=folds
        )
        scorer = ImitationScorer(x, table, params)
        alignment = scorer.alignment_for(reference)
        assert alignment is not None
        null = scorer.reference_null("gen", reference, alignment)
        assert null.family_kind == "closeness"
        assert ("outside its fold" in null.describe()) == (folds is not None)
        s, closeness = scorer.standing(fresh, reference.mean(axis=0), alignment, null.population)
        flagged, _ = null.family_flags(s, 0.1, closeness)
        rates[folds] = float(flagged.mean())
    assert rates[10] <= 0.115, rates
    assert rates[None] >= rates[10] + 0.02, rates


def test_the_closeness_family_statistic_is_the_top_artists_closeness_plus_its_margin() -> None:
    rng = np.random.default_rng(13)
    n_art = 30
    names = [f"a{i}" for i in range(n_art)]
    closeness = rng.normal(size=(500, n_art))
    margins = contrastive_margin(closeness)
    null = Null.from_matrix("reference", "gen", margins, closeness=closeness)
    top2 = np.sort(closeness, axis=1)[:, -2:]
    np.testing.assert_allclose(np.sort(null.family_statistic), np.sort(2 * top2[:, 1] - top2[:, 0]))
    with pytest.raises(ValueError, match="closeness"):
        null.family_flags(margins, 0.05)
    fresh = rng.normal(size=(20_000, n_art))
    flagged, _ = null.family_flags(contrastive_margin(fresh), 0.05, fresh)
    assert abs(float(flagged.mean()) - 0.05) < 0.015
    strong = rng.normal(size=n_art)
    strong[4] = 5.0
    v = family_verdict(contrastive_margin(strong[None, :])[0], names, null, 0.05, strong)
    assert v.flagged and v.flagged_artist == "a4"


def test_the_mean_direction_weighs_by_the_null_the_suspect_is_read_against() -> None:
    """With a generator reference the artist's mean direction weighs `centroid_weight`;
    judged among paintings, `index_centroid_weight`; a record that does not name the
    latter was made before it existed and blends both ways with `centroid_weight`."""
    from simdetect.scoring.imitation import (
        ImitationParams,
        blend_centroid,
        compute_state,
        genuine_by_artist,
    )

    x, table, imitations, _, reference, _ = _generator_world()
    params = ImitationParams(shrinkage=0.05, centroid_weight=0.8, index_centroid_weight=0.2)
    state, scorer = compute_state("snap", x, table, params)
    q = scorer.discriminant.transform(imitations)
    assert scorer.radius is not None  # without a reference, works are hubness-corrected
    topk = per_artist_topk(q @ scorer.library.T - 0.5 * scorer.radius, table, params.k)
    np.testing.assert_allclose(
        scorer.per_artist(imitations), blend_centroid(topk, q @ scorer.centroids.T, 0.2)
    )
    centre = reference.mean(axis=0)
    qr = scorer.discriminant.transform(imitations, centre)
    topk_r = per_artist_topk(qr @ scorer.library.T, table, params.k)
    np.testing.assert_allclose(
        scorer.per_artist(imitations, centre), blend_centroid(topk_r, qr @ scorer.centroids.T, 0.8)
    )
    # the index null and the works' own scores follow the same rule as the suspects
    for weight, reference_given in ((0.2, False), (0.8, True)):
        single = ImitationParams(shrinkage=0.05, centroid_weight=weight, index_centroid_weight=None)
        old_state, old_scorer = compute_state("snap", x, table, single)
        if not reference_given:
            np.testing.assert_allclose(state.index_null_raw, old_state.index_null_raw)
        for got, want in zip(
            genuine_by_artist(state, scorer, reference=reference_given),
            genuine_by_artist(old_state, old_scorer, reference=reference_given),
            strict=True,
        ):
            np.testing.assert_allclose(got, want)
    assert params.record()["index_centroid_weight"] == 0.2
    older = {k: v for k, v in ImitationParams().record().items() if k != "index_centroid_weight"}
    assert ImitationParams.from_record(older).centroid_weight_for(reference=False) == 0.8
    with pytest.raises(ValueError, match="index_centroid_weight"):
        ImitationParams(index_centroid_weight=1.5)


def test_a_painting_in_one_of_its_artists_manners_is_found_by_its_nearest_works() -> None:
    """Why paintings judged among paintings lean less on the mean direction: an artist who
    works in two manners has a mean between them, where another artist may stand."""
    from simdetect.scoring.imitation import ImitationParams, ImitationScorer

    rng = np.random.default_rng(3)
    d = 16
    e = np.eye(d)
    manners = {"two-manners": [e[0], e[1]], "between": [_norm((e[0] + e[1])[None])[0]]}
    manners |= {f"other{i}": [e[2 + i]] for i in range(6)}
    x, artists, queries, truth = [], [], [], []
    for name, modes in manners.items():
        for m in modes:
            works = m + rng.normal(size=(12, d)) * 0.12
            x.append(works[:10])
            artists += [name] * 10
            queries.append(works[10:])
            truth += [name] * 2
    table = ArtistTable.build(artists, ["artist"] * len(artists))
    queries_x = np.vstack(queries)
    want = np.array([table.names.index(t) for t in truth])

    def top1(index_weight: float) -> float:
        p = ImitationParams(shrinkage=None, index_centroid_weight=index_weight)
        s = ImitationScorer(np.vstack(x), table, p).scores(queries_x)
        return float(np.mean(np.nanargmax(s, axis=1) == want))

    assert top1(0.5) == 1.0
    assert top1(1.0) < 0.9  # the mean direction alone takes the two-manner works elsewhere


def _index_like_margins(rng: np.random.Generator, n: int) -> np.ndarray:
    """Margins as the index null has them: one artist per image ahead (positive), the
    others behind; artist 2 far behind everyone and in a very narrow band."""
    s = np.empty((n, 3))
    s[:, 0] = rng.normal(-0.2, 0.1, n)
    s[:, 1] = rng.normal(-0.2, 0.1, n)
    s[:, 2] = rng.normal(-1.0, 0.01, n)
    ahead = rng.integers(0, 2, n)
    s[np.arange(n), ahead] = np.abs(rng.normal(0.05, 0.05, n))
    return s


def test_without_a_reference_an_image_is_flagged_only_for_the_artist_it_is_closest_to() -> None:
    """The largest margin z can belong to an artist the image is not closest to (a narrow
    null makes a small shortfall look unusual); the flag then names an artist the image
    was never decided for. Flagging only the closest artist keeps the family rate."""
    rng = np.random.default_rng(11)
    names = ["a", "b", "c"]
    suspect = np.array([0.01, -0.3, -0.95])  # closest to a, barely; unusually near c
    old = Null.from_matrix("index", None, _index_like_margins(rng, 400))
    new = Null.from_matrix("index", None, _index_like_margins(rng, 400), closest_only=True)
    before = family_verdict(suspect, names, old, 0.05)
    assert before.flagged and before.flagged_artist == "c"
    after = family_verdict(suspect, names, new, 0.05)
    assert after.flagged is False and after.flagged_artist is None
    behind = family_verdict(np.array([-0.1, -0.2, -0.99]), names, new, 0.05)
    assert behind.flagged is False and behind.statistic == -np.inf  # closest to nothing
    held_out = _index_like_margins(rng, 4000)
    flagged, artist = new.family_flags(held_out, 0.05)
    assert 0.03 <= flagged.mean() <= 0.07
    assert (held_out[flagged, artist[flagged]] > 0).all()


def test_the_index_paths_hubness_correction_is_csls_in_the_margin() -> None:
    """Without a reference each work's cosine loses half its neighbourhood radius: CSLS
    (2·cos − r(q) − r(x)) halved, less the suspect's own r(q)/2, which every artist shares
    and the margin cancels. With a reference, and for records without the knob, plain."""
    from simdetect.scoring.hubness import csls, neighbourhood_radius
    from simdetect.scoring.imitation import (
        ImitationParams,
        ImitationScorer,
        ImitationState,
        blend_centroid,
        compute_state,
    )

    x, table, imitations, _, reference, _ = _generator_world()
    params = ImitationParams(shrinkage=0.05, index_hubness_k=5)
    state, scorer = compute_state("snap", x, table, params)
    lib = scorer.library
    inner = lib @ lib.T
    np.fill_diagonal(inner, -np.inf)
    np.testing.assert_allclose(scorer.radius, neighbourhood_radius(inner, 5))
    q = scorer.discriminant.transform(imitations)
    sims = q @ lib.T
    corrected = csls(sims, neighbourhood_radius(sims, 5), scorer.radius) / 2.0
    weight = params.centroid_weight_for(reference=False)
    topk = per_artist_topk(corrected, table, params.k)
    want = blend_centroid(topk, q @ scorer.centroids.T, weight)
    np.testing.assert_allclose(scorer.scores(imitations), contrastive_margin(want), atol=1e-12)
    # with a generator reference the works' cosines are left as they are
    plain = ImitationScorer(x, table, ImitationParams(shrinkage=0.05, index_hubness_k=None))
    centre = reference.mean(axis=0)
    np.testing.assert_allclose(scorer.scores(imitations, centre), plain.scores(imitations, centre))
    assert plain.radius is None
    assert not np.allclose(scorer.scores(imitations), plain.scores(imitations))
    # the radius travels with the state and enters its digest
    back = ImitationState.from_bytes(state.to_bytes())
    assert back.radius is not None and back.genuine.topk_index is not None
    np.testing.assert_array_equal(back.radius, state.radius)
    assert back.digest() == state.digest()
    reread = ImitationScorer(x, table, back.params, back.discriminant, back.subspace, back.radius)
    np.testing.assert_array_equal(reread.scores(imitations), scorer.scores(imitations))
    back.radius = back.radius + 1e-9
    assert back.digest() != state.digest()
    older = {k: v for k, v in ImitationParams().record().items() if k != "index_hubness_k"}
    assert ImitationParams.from_record(older).index_hubness_k is None
