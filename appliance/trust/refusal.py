"""Why the aircraft refused what the ground served: one reason per TUF attack, the label values of
`appliance_trust_refusals_total{reason}`, the health warning and the telemetry."""

from __future__ import annotations

import enum


class Refusal(enum.StrEnum):
    SIGNATURE = "signature"  # not signed by the threshold of the right keys (tampered metadata, wrong key)
    MALFORMED = "malformed"  # metadata that does not parse as TUF metadata
    ROLLBACK = "rollback"  # a version older than the one already trusted (metadata or a target's)
    MIX_AND_MATCH = "mix_and_match"  # metadata versions that do not belong together
    EXPIRED = "expired"  # freeze: metadata past its expiry at the trusted time
    LENGTH_OR_HASH = "length_or_hash"  # a target (or metadata) whose bytes are not the signed ones
    ENDLESS_DATA = "endless_data"  # more bytes than declared or allowed
    SLOW_RETRIEVAL = "slow_retrieval"  # a body trickling in slower than the minimum rate
    UNKNOWN_TARGET = "unknown_target"  # a file the signed targets do not list
    CLOCK = "clock"  # no trusted time to judge expiry with


class LinkFailure(Exception):
    """The repository could not be reached or answered an HTTP error: not an attack we can tell apart from
    bad coverage, so it is not counted as a refusal; the last good metadata stays in use."""


def classify(error: BaseException) -> Refusal | None:
    """The refusal reason of an exception raised by python-tuf's Updater; None for a download failure
    (no connection, an HTTP error status, the link's budget), which is a `LinkFailure`, not a refusal.

    BadVersionNumberError carries both rollback and mix-and-match: python-tuf's messages tell them apart
    (checked by tests/trust/test_attacks.py, so a change of wording fails a test, not the aircraft).

    python-tuf is imported here, not at the top: the daemon reads this module to label its metrics at start,
    and needs python-tuf only once a ground window refreshes (~70 ms of start-up and 2.5 MB of RSS, measured;
    tests/architecture/test_startup_imports.py keeps it so)."""
    from tuf.api import exceptions

    if isinstance(error, exceptions.UnsignedMetadataError):
        return Refusal.SIGNATURE
    if isinstance(error, exceptions.ExpiredMetadataError):
        return Refusal.EXPIRED
    if isinstance(error, exceptions.LengthOrHashMismatchError):
        return Refusal.LENGTH_OR_HASH
    if isinstance(error, exceptions.DownloadLengthMismatchError):
        return Refusal.ENDLESS_DATA
    if isinstance(error, exceptions.SlowRetrievalError):
        return Refusal.SLOW_RETRIEVAL
    if isinstance(error, exceptions.BadVersionNumberError):
        text = str(error)
        # "New timestamp version 1 must be >= 2", "New snapshot version must be >= 3, got version 2",
        # "Expected targets.json version 1, got 2." (snapshot lowering a role's version): a rollback.
        if text.startswith("New ") or ".json version" in text:
            return Refusal.ROLLBACK
        # "Expected snapshot version 3, got 2", "Expected targets v3, got v2.", "Expected root version 2
        # instead got version 5": a file that is not the version the signed metadata points at.
        return Refusal.MIX_AND_MATCH
    if isinstance(error, exceptions.RepositoryError):
        if "is missing info for" in str(error):
            return Refusal.ROLLBACK  # a snapshot that drops a role it listed before
        if isinstance(error.__cause__, exceptions.UnsignedMetadataError):
            return Refusal.SIGNATURE
        return Refusal.MALFORMED
    return None
