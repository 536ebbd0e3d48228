"""Crash-safe storage.

- `fileops`   the file-operation layer every durable write goes through (REAL_OPS; record / inject faults)
- `atomic`    the one helper for small files: atomic_write_bytes / atomic_write_text / read_state_file
- `framing`   journal record and segment framing (8-byte aligned, CRC-32C) and the torn-vs-corrupt scan
- `journal`   segments, group commit on a writer thread, rotation, checkpoints, freeze for power fail
- `recovery`  snapshot + segment reading at boot: torn tails truncated, corruption reported and quarantined
- `store`     a keyspace of JSON documents on the journal (transactions, rollback of refused writes)
- `tinystore` TinyDB on the store: JournaledDB (writes are journaled deltas, never JSON rewritten in place)
- `outbox`    the Outbox port on a TinyDB table
- `boot`      BootInfo: boot id, clean-shutdown marker, unsafe-shutdown counter
- `clock`     TimeKeeper: persisted time floor, RTC sanity, avionics / network anchors, record stamps
- `check`     read-only check of the state directory for `appliance fsck`
- `component` the Storage component: build(ctx) fills ctx.outbox, ctx.boot, ctx.time_anchor, ctx.flushables
"""
