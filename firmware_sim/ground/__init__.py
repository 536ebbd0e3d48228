"""The simulated ground side: the airline's services (orders with an Idempotency-Key), content as static
files, the time, and the link in between (bandwidth, latency, cuts)."""
