"""The ARINC 429 word codec: round trips over every label's range, spec vectors, parity, label reversal."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.arinc429 import (
    BY_LABEL,
    LABELS,
    REVERSE,
    decode,
    encode,
    encode_flight_id,
    encode_flight_information,
    label_of,
    parity_ok,
    spec_for,
    with_parity,
)
from hal.arinc429.labels import LabelSpec

BNR = [spec for spec in LABELS if spec.format == "BNR" and spec.layout == ""]
SSM_BNR = {"failure_warning": 0, "no_computed_data": 1, "functional_test": 2, "normal": 3}


def _span(spec: LabelSpec) -> tuple[float, float]:
    """The encodable range: [-range, range - LSB] for signed labels, [0, range - LSB] otherwise."""
    return (-spec.range if spec.signed else 0.0), spec.range - spec.lsb


def _angle_error(spec: LabelSpec, got: float, want: float) -> float:
    error = abs(got - want)
    return min(error, 360.0 - error) if spec.display == "0-360" else error


def test_table_has_every_label_of_the_reference() -> None:
    wanted = [
        "203",
        "205",
        "211",
        "213",
        "310",
        "311",
        "312",
        "314",
        "315",
        "316",
        "320",
        "324",
        "325",
        "330",
        "150",
        "260",
        "261",
        "233",
        "234",
        "235",
        "236",
        "360",
    ]
    assert sorted(BY_LABEL) == sorted(wanted)
    assert spec_for("altitude").label == "203"
    assert spec_for(0o203).name == "altitude"
    assert spec_for("203").units == "ft"
    assert spec_for("altitude").stale_after_s == pytest.approx(3 * 0.0625)
    assert spec_for("mach_speed").lsb == pytest.approx(0.0000625)
    assert spec_for("latitude").lsb == 180 / 2**20
    with pytest.raises(KeyError):
        spec_for("nonsense")


@pytest.mark.parametrize("spec", BNR, ids=lambda s: s.name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_bnr_round_trip_within_half_an_lsb(spec: LabelSpec, data: st.DataObject) -> None:
    low, high = _span(spec)
    value = data.draw(st.one_of(st.sampled_from([low, high, 0.0]), st.floats(low, high)))
    sdi = data.draw(st.integers(0, 3)) if spec.has_sdi else 0
    word = encode(spec.name, value, sdi=sdi)
    decoded = decode(word, channel=3)
    assert parity_ok(word)
    assert (decoded.label, decoded.sdi, decoded.channel, decoded.status) == (spec.label, sdi, 3, "normal")
    assert isinstance(decoded.value, float)
    assert _angle_error(spec, decoded.value, value) <= spec.lsb / 2 + 1e-12
    if spec.display == "0-360":
        assert 0.0 <= decoded.value < 360.0


@pytest.mark.parametrize("spec", [s for s in BNR if s.signed], ids=lambda s: s.name)
def test_negative_extreme_is_exact(spec: LabelSpec) -> None:
    decoded = decode(encode(spec.name, -spec.range))
    expected = 360.0 - spec.range if spec.display == "0-360" else -spec.range
    assert decoded.value == expected


def test_bnr_out_of_range_clamps_to_the_extremes() -> None:
    assert decode(encode("altitude", 1e9)).value == 131071.0
    assert decode(encode("altitude", -1e9)).value == -131072.0


def test_spec_vector_altitude() -> None:
    """Label 203 (10 000 011) reads 0xC1 in the low byte; 35000 ft in 17 bits from bit 28 down, SSM 11."""
    word = with_parity(0xC1 | 35000 << 11 | 0b11 << 29)
    assert encode("altitude", 35000) == word
    assert word & 0xFF == 0xC1
    decoded = decode(word)
    assert (decoded.label, decoded.name, decoded.value, decoded.units) == ("203", "altitude", 35000.0, "ft")
    negative = with_parity(0xC1 | ((-1000) & 0x3FFFF) << 11 | 0b11 << 29)
    assert decode(negative).value == -1000.0


def test_spec_vector_latitude_uses_bits_9_and_10() -> None:
    """310 has 20 significant bits in bits 9-28: no SDI."""
    raw = round(-33.5 * 2**20 / 180) & 0x1FFFFF
    word = with_parity(REVERSE[0o310] | raw << 8 | 0b11 << 29)
    assert encode("latitude", -33.5) == word
    decoded = decode(word)
    assert decoded.sdi == 0
    assert decoded.value == pytest.approx(-33.5, abs=180 / 2**21)
    with pytest.raises(ValueError):
        encode("latitude", 1.0, sdi=1)


@pytest.mark.parametrize(
    ("ssm", "status"), [(0, "failure_warning"), (1, "no_computed_data"), (2, "functional_test"), (3, "normal")]
)
def test_bnr_status_matrix(ssm: int, status: str) -> None:
    word = with_parity(0xC1 | 1000 << 11 | ssm << 29)
    assert decode(word).status == status
    assert encode("altitude", 1000, status=status) == word


def test_sdi_is_part_of_the_word() -> None:
    for sdi in range(4):
        assert decode(encode("pitch", 2.5, sdi=sdi)).sdi == sdi


def test_label_reversal_table() -> None:
    assert REVERSE[0o203] == 0xC1
    assert REVERSE[0xC1] == 0o203
    assert REVERSE[0o261] == 0x8D
    assert REVERSE[0x01] == 0x80
    assert all(REVERSE[REVERSE[b]] == b for b in range(256))
    assert all(f"{REVERSE[b]:08b}" == f"{b:08b}"[::-1] for b in range(256))
    assert label_of(0xC1) == "203"


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=200)
def test_parity_is_odd_over_32_bits(word: int) -> None:
    assert parity_ok(word) == (bin(word).count("1") % 2 == 1)
    fixed = with_parity(word)
    assert parity_ok(fixed)
    assert fixed & 0x7FFFFFFF == word & 0x7FFFFFFF


def test_parity_error_gives_no_value() -> None:
    word = encode("altitude", 35000) ^ 1 << 15
    decoded = decode(word, channel=1)
    assert decoded.error == "parity"
    assert decoded.value is None
    assert decoded.as_contract() == {"channel": 1, "label": "203", "error": "parity"}


def test_bcd_flight_number_vector() -> None:
    """Four digits, thousands in bits 26-29 down to units in bits 14-17; SSM 00 plus."""
    word = with_parity(0x8D | 4 << 13 | 3 << 17 | 2 << 21 | 1 << 25)
    assert encode("flight_number", 1234) == word
    decoded = decode(word)
    assert (decoded.value, decoded.status) == (1234, "normal")


@given(st.integers(-9999, 9999))
def test_bcd_round_trip_with_the_sign_in_the_ssm(value: int) -> None:
    word = encode("flight_number", value)
    assert decode(word).value == value
    assert (word >> 29) & 3 == (3 if value < 0 else 0)
    assert decode(word).status == "normal"


def test_bcd_status_and_degraded_digit() -> None:
    assert decode(encode("flight_number", 12, status="no_computed_data")).status == "no_computed_data"
    assert decode(encode("flight_number", 12, status="functional_test")).status == "functional_test"
    with pytest.raises(ValueError):
        encode("flight_number", 12, status="failure_warning")
    with pytest.raises(ValueError):
        encode("flight_number", 10000)
    degraded = with_parity(0x8D | 0xF << 13)
    assert decode(degraded).value is None
    assert decode(degraded).status == "failure_warning"


def test_date_vector_and_round_trip() -> None:
    word = with_parity(REVERSE[0o260] | 2 << 27 | 3 << 23 | 1 << 22 | 1 << 18 | 2 << 14 | 6 << 10)
    assert encode("date", "2026-11-23") == word
    assert decode(word).value == "2026-11-23"
    assert decode(word).units == "YYYY-MM-DD"
    day = dt.date(2000, 1, 1)
    while day.year < 2100:
        assert decode(encode("date", day)).value == day.isoformat()
        day += dt.timedelta(days=97)


def test_utc_vector_and_round_trip() -> None:
    word = with_parity(REVERSE[0o150] | 12 << 23 | 34 << 17 | 56 << 11 | 1 << 10 | 3 << 29)
    assert encode("utc_time", "12:34:56") == word
    assert decode(word).value == "12:34:56"
    for h, m, s in [(0, 0, 0), (23, 59, 59), (7, 5, 9)]:
        assert decode(encode("utc_time", dt.time(h, m, s))).value == f"{h:02d}:{m:02d}:{s:02d}"


def test_flight_id_words_carry_two_characters() -> None:
    words = encode_flight_id("IB3456")
    assert [label_of(w) for w in words] == ["233", "234", "235", "236"]
    assert [decode(w).value for w in words] == ["IB", "34", "56", ""]
    first = words[0]
    assert (first >> 10) & 0x7F == ord("I")
    assert (first >> 18) & 0x7F == ord("B")
    assert all(w & (1 << 17 | 0xF << 25) == 0 for w in words)  # bit 18 and bits 26-29 zero
    assert decode(first).status == "normal"
    with pytest.raises(ValueError):
        encode_flight_id("TOOLONGID")


def test_flight_information_block_layout() -> None:
    words = encode_flight_information("IB3456", "LEBL", "LEMD")
    assert len(words) == 7
    assert all(label_of(w) == "360" and parity_ok(w) for w in words)
    initial = words[0]
    assert (initial >> 29) & 3 == 1
    assert (initial >> 22) & 0x7F == 0x02
    assert (initial >> 16) & 0x3F == 0
    assert (initial >> 8) & 0xFF == 7
    assert all((w >> 29) & 3 == 0 for w in words[1:])
    chars = "".join(chr((w >> s) & 0x7F) for w in words[1:] for s in (8, 15, 22))
    assert chars == "IB3456\0\0LEBLLEMD\0\0"


def test_unknown_label_decodes_raw() -> None:
    word = with_parity(REVERSE[0o001] | 5 << 10 | 3 << 29)
    decoded = decode(word)
    assert (decoded.name, decoded.value, decoded.label) == (None, 5, "001")
    with pytest.raises(KeyError):
        encode(0o001, 1)


def test_block_label_needs_its_own_encoder() -> None:
    with pytest.raises(ValueError):
        encode("flight_information", "x")
