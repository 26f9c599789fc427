"""The device demo: the upload folder it writes and its leakage table."""

import numpy as np

from spinml import SanitizedSet
from spinml.demo import device_demo


def test_device_demo_saves_the_upload_and_orders_leakage_by_level(tmp_path):
    folder, table = device_demo(tmp_path / "upload", "target=L2,background=L0", progress=False)
    upload = SanitizedSet.load(folder)
    assert upload.scheme == "L2_L0" and len(upload) == 4
    assert list(table.columns) == ["L0", "L1", "L2"]
    assert {"target", "background"} <= set(table.index)
    assert np.all(table["L0"] == 0)
    assert np.all(table["L0"] < table["L1"]) and np.all(table["L1"] < table["L2"])
    again, _ = device_demo(folder, "target=L1", progress=False)
    assert again == folder and SanitizedSet.load(folder).scheme == "L1_L0"
