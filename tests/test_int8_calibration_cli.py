"""benchmarks.int8_calibration: variant parsing and bad input (the measurement itself needs the
full FERPlus split and the canonical sets: export/README.md)."""
import pytest

from benchmarks import int8_calibration as ic


def test_parse_variants():
    got = ic.parse_variants("minmax:300,percentile:1200:99.99+udcformer.stem+pnet_s2.encoder,,entropy:600")
    assert got == [("minmax:300", "minmax", 300, 99.999, ()),
                   ("percentile:1200:99.99+udcformer.stem+pnet_s2.encoder", "percentile", 1200, 99.99,
                    ("udcformer.stem", "pnet_s2.encoder")),
                   ("entropy:600", "entropy", 600, 99.999, ())]
    assert ic.parse_variants("") == []


@pytest.mark.parametrize("bad", ["minmax", "kl:300", "minmax:0", "minmax:x", "percentile:300:101", "a:1:2:3"])
def test_bad_variant_is_named(bad):
    with pytest.raises(ValueError, match=f"bad variant '{bad}'"):
        ic.parse_variants(f"minmax:300,{bad}")


def test_cli_bad_input_exits_2(tmp_path, capsys):
    assert ic.main([str(tmp_path / "none.onnx"), "--canonical-dir", str(tmp_path), "--variants", "minmax"]) == 2
    assert "bad variant 'minmax'" in capsys.readouterr().err
    assert ic.main([str(tmp_path / "none.onnx"), "--canonical-dir", str(tmp_path)]) == 2
    assert "float artifact not found" in capsys.readouterr().err
