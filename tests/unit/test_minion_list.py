"""xenctys.minion's LIST helpers that decide which toolstack calls a LIST makes."""

import pytest

from xenctys.minion import runtime_vnc_port


@pytest.mark.parametrize("vnc, expected", [
    ({}, False),
    ({"vnc": 0}, False),
    ({"vnc": 1}, True),  # libxl's default: vncunused=1
    ({"vnc": 1, "vncunused": 1}, True),
    ({"vnc": "1", "vncunused": "1", "vncdisplay": 3}, True),  # vncunused wins over the display
    ({"vnc": 1, "vncunused": 0, "vncdisplay": 7}, False),  # fixed: 5907
    ({"vnc": 1, "vncunused": 0}, False),  # fixed: 5900
    ({"vncunused": 1}, False),
])
def test_runtime_vnc_port(vnc, expected):
    assert runtime_vnc_port(vnc) is expected
