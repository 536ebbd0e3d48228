"""File helpers below every component: the file-operation layer every durable write goes through (`fileops`:
REAL_OPS, recorded and fault-injected in the crash tests) and atomic small-file replaces (`atomic`)."""
