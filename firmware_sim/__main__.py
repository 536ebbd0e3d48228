"""`python -m firmware_sim [--scenario NAME] [--control HOST:PORT] [--speed X]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from firmware_sim.flight.scenario import SCENARIOS
from firmware_sim.simulator import Simulator


async def _main(args: argparse.Namespace) -> int:
    simulator = Simulator(scenario=args.scenario, speed=args.speed, control=args.control)
    await simulator.start()
    print(json.dumps(simulator.endpoints()), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await simulator.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_sim", description="Simulate every device.")
    parser.add_argument("--scenario", default="day", choices=sorted(SCENARIOS), help="flight scenario (default: day)")
    parser.add_argument("--control", default="127.0.0.1:9190", help="HOST:PORT of the control listener (port 0: any)")
    parser.add_argument("--speed", type=float, default=1.0, help="time compression")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())
