"""The likelihood section's sentences and histograms, from tables whose answers are known."""
import numpy as np
import pytest

from genzoo import likelihood
from genzoo.app import likelihoods


def row(own: float, other: float, spread: float = 0.2) -> dict:
    """A row whose test pictures' bits are spread evenly around ``own`` (and the other dataset's around ``other``)."""
    def part(centre):
        return {"bits_per_dim": centre, "n": 100,
                "percentiles": list(np.linspace(centre - spread, centre + spread, 101))}
    return {"kind": "bound", "own": part(own), "mnist": part(other), "weights": "x"}


@pytest.fixture
def table(monkeypatch):
    rows = {"vae": row(4.2, 3.9), "vae-2d": row(4.6, 4.8)}
    monkeypatch.setattr(likelihoods, "rows_of", lambda zoo, dataset: rows)
    monkeypatch.setattr(likelihoods, "metrics", lambda zoo, dataset: None)
    return rows


def test_the_paradox_sentence_counts_the_models_that_prefer_the_other_dataset(table):
    words = likelihoods.likelihood_summary(None, "fashion")
    assert "1 of 2 models trained on Fashion-MNIST clothes find the test pictures of MNIST digits *more* likely" \
        in words and "(VAE (beta = 1))" in words
    assert "Most likely here: VAE (beta = 1), 4.20 bits per pixel" in words
    assert "Published, for comparison" not in words            # the anchors are MNIST's


def test_a_picture_is_placed_among_the_models_own_test_pictures(table):
    r = table["vae"]
    assert likelihood.percentile(r, 4.2) == pytest.approx(50)
    assert likelihood.percentile(r, 3.0) == 0 and likelihood.percentile(r, 9.0) == 100
    assert likelihoods.percentile_words(r, 4.3) == "more surprising than 75 % of its test pictures"
    assert likelihoods.percentile_words(r, 4.1) == "less surprising than 75 % of its test pictures"


def test_histograms_from_percentiles_hold_every_picture():
    r = row(4.2, 3.9)
    edges = np.linspace(3.0, 5.0, 41)
    shares = likelihoods.histogram(r["own"]["percentiles"], edges)
    assert shares.sum() == pytest.approx(100)
    assert shares[edges[:-1] < 4.0 - 1e-9].sum() == pytest.approx(0)     # none below its lowest picture
    inside = shares[(edges[:-1] >= 4.0 - 1e-9) & (edges[1:] <= 4.4 + 1e-9)]
    assert np.allclose(inside, inside[0])                                  # spread evenly, evenly counted
