"""A well-behaved client for the reliability tests, run as its own process:

    python3 latency_probe.py HOST PORT [INTERVAL_S]

Calls Health/Check every INTERVAL_S seconds on one connection (reconnecting if it drops),
prints "ready" after the first success and, on SIGTERM, one JSON line:
{"latencies": [seconds...], "errors": ["..."]}.
"""

import asyncio
import json
import pathlib
import signal
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from apikeys_client import Client  # noqa: E402


async def main(host: str, port: int, interval: float) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    latencies, errors = [], []
    client = None
    ready = False
    while not stop.is_set():
        start = time.perf_counter()
        try:
            if client is None or client.connection.closed:
                client = await Client.connect(host, port, timeout=5)
                start = time.perf_counter()
            await client.health.check(timeout=5)
            latencies.append(time.perf_counter() - start)
            if not ready:
                ready = True
                print("ready", flush=True)
        except Exception as exc:  # noqa: BLE001 - every failure is reported
            errors.append(f"{type(exc).__name__}: {exc}")
            client = None
            if not ready and len(errors) > 50:
                break
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass
    if client is not None:
        await client.close()
    print(json.dumps({"latencies": latencies, "errors": errors}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 0.01))
