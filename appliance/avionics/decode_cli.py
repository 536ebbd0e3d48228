"""`appliance decode [--stats] [FILE or -]`: adapter-framed ARINC 429 bytes (raw, or a capture file) to JSON lines.

One line per decoded word as the contract gives it; a word with bad parity prints only channel, label and
"error": "parity" (a word the adapter flagged: "error": "line"); bad-CRC frames print nothing; a label 360 block
prints one line when it is complete.
`--stats` prints only {"frames", "words", "parity_errors", "line_errors", "crc_errors", "resyncs", "seconds"},
summed over channels (heartbeats count as frames); "seconds" is how long the decoding took. Exit 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import BinaryIO

from hal.arinc429 import MAGIC, AdapterStream, Batch, is_capture, read_records, sum_counters

CHUNK = 1 << 16


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """The raw adapter bytes of a capture's records, or of the stream itself."""
    head = stream.read(len(MAGIC))
    if is_capture(head):
        for record in read_records(stream, magic_read=True):
            yield record.data
        return
    yield head
    while data := stream.read(CHUNK):
        yield data


def _print_words(batch: Batch) -> None:
    if batch.words:
        sys.stdout.write("".join(json.dumps(word.as_contract()) + "\n" for word in batch.words))


def _decode(stream: BinaryIO, stats: bool) -> None:
    started = time.monotonic()
    adapter = AdapterStream(keep_words=not stats)
    for chunk in _chunks(stream):
        batch = adapter.feed(chunk)
        if not stats:
            _print_words(batch)
    batch = adapter.flush()
    if stats:
        total = sum_counters(adapter.totals)
        summary = {
            "frames": total.frames,
            "words": total.words,
            "parity_errors": total.parity_errors,
            "line_errors": total.line_errors,
            "crc_errors": total.crc_errors,
            "resyncs": total.resyncs,
            "seconds": round(time.monotonic() - started, 6),
        }
        print(json.dumps(summary))
    else:
        _print_words(batch)
    sys.stdout.flush()


def main(args: argparse.Namespace) -> int:
    name: str = args.file
    try:
        if name == "-":
            _decode(sys.stdin.buffer, args.stats)
        else:
            with open(name, "rb") as stream:
                _decode(stream, args.stats)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        print(f"appliance decode: cannot read {name}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0
