"""The ARINC 429 word codec: label bit order, odd parity, SDI, SSM, BNR, BCD, ISO 5 characters.

A word is held as an int with the spec's bit 1 in the least significant bit (as the adapter delivers it), so
the spec's bit k is int bit k-1 and the low byte holds the label with its bits reversed (label 203 reads 0xC1).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from hal.arinc429.labels import BY_CODE, LabelSpec, spec_for

#: REVERSE[b] is byte b with its 8 bits in the opposite order (the wire's label order <-> the label number).
REVERSE: tuple[int, ...] = tuple(int(f"{b:08b}"[::-1], 2) for b in range(256))

STATUSES = ("normal", "no_computed_data", "functional_test", "failure_warning")
#: SSM (bits 30-31) -> status, for BNR words (and ISO 5 / UTC words, which use the BNR matrix).
BNR_STATUS = ("failure_warning", "no_computed_data", "functional_test", "normal")
#: SSM -> status, for BCD words: 00 plus/north/east and 11 minus/south/west are both normal operation.
BCD_STATUS = ("normal", "no_computed_data", "functional_test", "normal")
_BNR_SSM = {status: ssm for ssm, status in enumerate(BNR_STATUS)}
_BCD_SSM = {"normal": 0, "no_computed_data": 1, "functional_test": 2}
BCD_MINUS = 3
STX = 0x02

Value = float | int | str | dict[str, str] | None


class DecodedWord(NamedTuple):
    """One decoded word (immutable; a named tuple because decoding builds one per word on the hot path and a
    tuple is built several times faster than a frozen dataclass: `_replace()` gives a changed copy).
    `value` is None for an error; `error` is None, "parity" or "line" (the adapter flagged a gap or bit-length
    error on it).

    value types: BNR -> float (bearings 0-360), BCD flight_number -> int, utc_time "HH:MM:SS", date
    "YYYY-MM-DD", flight_id (233-236) -> its two characters without zero padding, a label 360 word -> its
    three characters (an initial word: ""), a completed 360 block -> {"flight_number", "origin",
    "destination"}; an unknown label (name None) -> the data bits 11-29 as an int.
    Labels without an SDI (310, 311, 360) report sdi 0.
    """

    channel: int
    label: str
    sdi: int
    name: str | None
    value: Value
    units: str
    status: str
    error: str | None = None
    word: int = 0

    def as_contract(self) -> dict[str, Any]:
        """The `appliance decode` JSON object: keys and order exactly as the contract gives them."""
        if self.error is not None:
            return {"channel": self.channel, "label": self.label, "error": self.error}
        return {
            "channel": self.channel,
            "label": self.label,
            "sdi": self.sdi,
            "name": self.name,
            "value": self.value,
            "units": self.units,
            "status": self.status,
        }


def bits(word: int, high: int, low: int) -> int:
    """The spec's bits low..high (1-based, inclusive) as an unsigned int."""
    return (word >> (low - 1)) & ((1 << (high - low + 1)) - 1)


def parity_ok(word: int) -> bool:
    """ARINC 429 parity is odd over all 32 bits."""
    return (word & 0xFFFFFFFF).bit_count() & 1 == 1


def with_parity(word: int) -> int:
    """Set bit 32 so the word has odd parity."""
    word &= 0x7FFFFFFF
    return word if word.bit_count() & 1 else word | 0x80000000


def label_of(word: int) -> str:
    """The octal label as people write it (bit reversal undone)."""
    return f"{REVERSE[word & 0xFF]:03o}"


def ssm_of(word: int) -> int:
    return (word >> 29) & 3


def sdi_of(word: int) -> int:
    return (word >> 8) & 3


# ---------------------------------------------------------------------------------------------- decoding


def _bcd_digits(word: int, low: int, count: int) -> list[int]:
    """`count` 4-bit digits starting at spec bit `low`, least significant first; the top one may be short."""
    return [bits(word, min(low + 4 * i + 3, 29), low + 4 * i) for i in range(count)]


def _bcd_value(spec: LabelSpec, word: int) -> int | None:
    low = 30 - spec.sig_bits
    digits = _bcd_digits(word, low, (spec.sig_bits + 3) // 4)
    if any(d > 9 for d in digits):
        return None  # a digit of 1111 is degraded
    value = int(sum(d * 10**i for i, d in enumerate(digits)))
    return -value if ssm_of(word) == BCD_MINUS else value


def _utc_value(word: int) -> str:
    return f"{bits(word, 28, 24):02d}:{bits(word, 23, 18):02d}:{bits(word, 17, 12):02d}"


def _date_value(word: int) -> str | None:
    digits = (bits(word, 29, 28), bits(word, 27, 24), bits(word, 23, 23), bits(word, 22, 19))
    years = (bits(word, 18, 15), bits(word, 14, 11))
    if any(d > 9 for d in digits + years):
        return None
    day, month = digits[0] * 10 + digits[1], digits[2] * 10 + digits[3]
    return f"20{years[0]}{years[1]}-{month:02d}-{day:02d}"


def pair_chars(word: int) -> str:
    """Label 233-236: two ISO 5 characters, bits 11-17 and 19-25 (NULs kept)."""
    return chr(bits(word, 17, 11)) + chr(bits(word, 25, 19))


def block_chars(word: int) -> str:
    """A label 360 data word: three ISO 5 characters, bits 9-15, 16-22, 23-29, first lowest (NULs kept)."""
    return chr(bits(word, 15, 9)) + chr(bits(word, 22, 16)) + chr(bits(word, 29, 23))


def is_block_start(word: int) -> bool:
    """A label 360 initial word: SSM 01 and STX in bits 23-29."""
    return ssm_of(word) == 1 and bits(word, 29, 23) == STX


def block_word_count(word: int) -> int:
    """The initial word's count of words in the block (bits 9-16), the initial word included."""
    return bits(word, 16, 9)


class _WireLabel(NamedTuple):
    """Everything decode() needs about one wire label byte, worked out once."""

    label: str
    spec: LabelSpec | None
    name: str | None
    units: str
    statuses: tuple[str, ...]
    sdi_shift: int  # 8, or 32 (always 0) for labels without an SDI
    bnr: tuple[int, int, int, int, float, int, bool] | None  # shift, mask, sign, wrap, range, 2**N, bearing


def _wire_label(byte: int) -> _WireLabel:
    code = REVERSE[byte]
    spec = BY_CODE[code]
    statuses = BCD_STATUS if spec is not None and spec.format == "BCD" else BNR_STATUS
    sdi_shift = 8 if spec is None or spec.has_sdi else 32
    bnr = None
    if spec is not None and spec.format == "BNR" and spec.layout == "":
        n = spec.sig_bits
        bnr = (28 - n, (1 << (n + 1)) - 1, 1 << n, 1 << (n + 1), spec.range, 1 << n, spec.display == "0-360")
    name, units = (spec.name, spec.units) if spec is not None else (None, "")
    return _WireLabel(f"{code:03o}", spec, name, units, statuses, sdi_shift, bnr)


_WIRE: tuple[_WireLabel, ...] = tuple(_wire_label(byte) for byte in range(256))


def decode(word: int, channel: int = 0) -> DecodedWord:
    """Decode one word (bit 1 in the least significant bit) received on `channel`."""
    label, spec, name, units, statuses, sdi_shift, bnr = _WIRE[word & 0xFF]
    sdi = (word >> sdi_shift) & 3
    status = statuses[(word >> 29) & 3]
    if not (word & 0xFFFFFFFF).bit_count() & 1:
        return DecodedWord(channel, label, sdi, name, None, units, status, "parity", word)
    if spec is None:
        return DecodedWord(channel, label, sdi, None, bits(word, 29, 11), "", status, None, word)
    value: Value
    if bnr is not None:
        shift, mask, sign, wrap, full_scale, steps, bearing = bnr
        raw = (word >> shift) & mask
        if raw & sign:
            raw -= wrap
        value = raw * full_scale / steps
        if bearing and value < 0:
            value += 360.0
        return DecodedWord(channel, label, sdi, name, value, units, status, None, word)
    layout = spec.layout
    if layout == "":
        value = _bcd_value(spec, word)
    elif layout == "pair":
        value = pair_chars(word).replace("\x00", "")
    elif layout == "block":
        status = "normal"  # the SSM marks the initial word here, not a status
        value = "" if is_block_start(word) else block_chars(word).replace("\x00", "")
    elif layout == "utc":
        value = _utc_value(word)
    else:
        value = _date_value(word)
    if value is None:
        status = "failure_warning"  # a degraded BCD digit: never shown as real
    return DecodedWord(channel, label, sdi, spec.name, value, spec.units, status, None, word)


# ---------------------------------------------------------------------------------------------- encoding


def make_word(label: int | str, ssm: int, payload: int) -> int:
    """A word with parity from a label (number or octal string), an SSM, and bits 9-29 (`payload` << 8)."""
    code = int(label, 8) if isinstance(label, str) else label
    return with_parity(REVERSE[code] | (payload & 0x1FFFFF00) | (ssm & 3) << 29)


def _status_ssm(spec: LabelSpec, status: str, negative: bool = False) -> int:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if spec.format != "BCD":
        return _BNR_SSM[status]
    if status == "failure_warning":
        raise ValueError("a BCD word has no failure-warning SSM: a failed BCD source stops sending")
    return BCD_MINUS if negative and status == "normal" else _BCD_SSM[status]


def _sdi_bits(spec: LabelSpec, sdi: int) -> int:
    if not 0 <= sdi <= 3:
        raise ValueError(f"SDI {sdi} out of 0..3")
    if sdi and not spec.has_sdi:
        raise ValueError(f"label {spec.label} has no SDI")
    return sdi << 8


def bnr_field(spec: LabelSpec, value: float) -> int:
    """Sign + N significant bits (two's complement, rounded to the nearest LSB, clamped) in place."""
    n = spec.sig_bits
    if spec.display == "0-360" and value >= 180.0:
        value -= 360.0
    raw = max(-(1 << n), min((1 << n) - 1, round(value * (1 << n) / spec.range)))
    return (raw & ((1 << (n + 1)) - 1)) << (28 - n)


def bcd_field(spec: LabelSpec, value: int) -> int:
    """BCD digits of |value| from bit 29 down over `sig_bits` bits (the sign goes in the SSM)."""
    low = 30 - spec.sig_bits
    magnitude = abs(int(value))
    count = (spec.sig_bits + 3) // 4
    digits = [magnitude // 10**i % 10 for i in range(count)]
    if magnitude >= 10**count or digits[-1] >> (spec.sig_bits - 4 * (count - 1)):
        raise ValueError(f"{value} does not fit label {spec.label}")
    field = 0
    for i, digit in enumerate(digits):
        field |= digit << (low - 1 + 4 * i)
    return field


def _iso5(char: str) -> int:
    code = ord(char)
    if code > 0x7F:
        raise ValueError(f"{char!r} is not an ISO 5 (7-bit) character")
    return code


def _utc_field(value: Any) -> int:
    if isinstance(value, dt.time):
        h, m, s = value.hour, value.minute, value.second
    else:
        h, m, s = (int(part) for part in str(value).split(":"))
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60):
        raise ValueError(f"bad UTC time {value!r}")
    gnss = 1 << 10
    return h << 23 | m << 17 | s << 11 | gnss


def _date_field(value: Any) -> int:
    date = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if not 2000 <= date.year <= 2099:
        raise ValueError(f"date {date} outside 2000-2099")
    yy = date.year % 100
    return (
        (date.day // 10) << 27
        | (date.day % 10) << 23
        | (date.month // 10) << 22
        | (date.month % 10) << 18
        | (yy // 10) << 14
        | (yy % 10) << 10
    )


def encode(name_or_label: str | int, value: Any, sdi: int = 0, status: str = "normal") -> int:
    """Encode one word (with parity) for a label given by name, octal string or number.

    value: BNR a number (bearings may be 0-360), BCD an int, utc_time "HH:MM:SS" or datetime.time (encoded
    as GNSS-sourced), date "YYYY-MM-DD" or datetime.date, a flight_id label (233-236) a string of up to two
    characters. Label 360 is a block: use encode_flight_information().
    """
    spec = spec_for(name_or_label)
    payload = _sdi_bits(spec, sdi)
    negative = False
    if spec.layout == "block":
        raise ValueError("label 360 is a multi-word block: use encode_flight_information()")
    if spec.layout == "pair":
        text = str(value).ljust(2, "\x00")
        if len(text) != 2:
            raise ValueError(f"a flight id word holds two characters, not {value!r}")
        payload |= _iso5(text[0]) << 10 | _iso5(text[1]) << 18
    elif spec.layout == "utc":
        payload |= _utc_field(value)
    elif spec.layout == "date":
        payload |= _date_field(value)
    elif spec.format == "BNR":
        payload |= bnr_field(spec, float(value))
    else:
        negative = int(value) < 0
        payload |= bcd_field(spec, int(value))
    return make_word(spec.code, _status_ssm(spec, status, negative), payload)


def encode_flight_id(flight_id: str, sdi: int = 0, status: str = "normal") -> list[int]:
    """The four words 233-236 carrying an up-to-8-character flight id (zero padded)."""
    text = flight_id.ljust(8, "\x00")
    if len(text) != 8:
        raise ValueError(f"flight id {flight_id!r} longer than 8 characters")
    return [encode(label, text[2 * i : 2 * i + 2], sdi, status) for i, label in enumerate(("233", "234", "235", "236"))]


def encode_flight_information(flight_number: str, origin: str, destination: str) -> list[int]:
    """The 7-word label 360 block: an initial word (SSM 01, STX, count 7), then six words of 3 characters."""
    fields = ((flight_number, 8), (origin, 4), (destination, 4))
    for text, width in fields:
        if len(text) > width:
            raise ValueError(f"{text!r} longer than {width} characters")
    chars = "".join(text.ljust(width, "\x00") for text, width in fields).ljust(18, "\x00")
    words = [make_word("360", 1, STX << 22 | 7 << 8)]
    for i in range(6):
        a, b, c = (_iso5(ch) for ch in chars[3 * i : 3 * i + 3])
        words.append(make_word("360", 0, a << 8 | b << 15 | c << 22))
    return words
