"""notebooks/04_dp_fedemb.ipynb runs headless under papermill and writes finite results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

papermill = pytest.importorskip("papermill")

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "04_dp_fedemb.ipynb"


@pytest.mark.slow
def test_notebook_writes_figure_and_table(tmp_path):
    out = tmp_path / "report"
    papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
        parameters=dict(n_users=60, users_per_client=2, q=0.5, sigma=1.0, rounds=2,
                        n_heldout=10, public_pets=40, pretrain_epochs=1, image_size=16,
                        images_per_identity=4, trend_users="40,60", output_dir=str(out)))
    assert (out / "recall_vs_epsilon.png").stat().st_size > 1000
    table = pd.read_csv(out / "results.csv")
    assert set(table.setting) == {"public only", "non-private", "private"}
    assert np.isfinite(table.recall_at_1).all() and table.recall_at_1.between(0, 1).all()
    private = table[table.setting == "private"].iloc[0]
    assert np.isfinite(private.epsilon) and private.epsilon > 0
    assert private.accountant == "pld" and "Poisson" in private.sampling
    assert private.noise == "secure" and private.holds  # secret noise by default
    assert np.isinf(table[table.setting == "non-private"].epsilon).all()
    trend = pd.read_csv(out / "trend.csv")
    assert sorted(set(trend.n_users)) == [40, 60]
    private = trend[trend.setting != "non-private"]
    # same expected clients per round q n, same target epsilon at delta = 1 / n
    np.testing.assert_allclose(private.q * private.n_users, 0.5 * 60)
    assert (private.epsilon <= 4.0 + 1e-3).all() and (private.delta == 1 / private.n_users).all()
    assert np.isfinite(trend.drop_percent).all()
