"""One app instance in its own process: fires N concurrent requests at a rate-limited
route backed by the shared Upstash store, on cue, and prints how many were admitted.

    python -m tests.ratelimit.burst_worker <shim-url> <token> <algorithm> <requests> <limit>

Prints ``ready`` once warmed up, waits for a line on stdin, then prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from typing import cast

from daloy_edge import App
from daloy_edge.middleware.ratelimit import RateLimit, RateLimitConfig
from daloy_edge.ratelimit import AlgorithmName, RateLimiter, UpstashREST, UpstashStore
from daloy_edge.testing import TestClient


async def main(url: str, token: str, algorithm: AlgorithmName, requests: int, limit: int) -> None:
    # Generous bounds: 400 calls at once to a shim on a loaded machine may each wait
    # seconds, and a call timed out would be refused by the failure policy, not counted.
    store = UpstashStore(UpstashREST(url, token, timeout=60), timeout=60, first_timeout=60)
    config = RateLimitConfig(
        limit=limit,
        window=3600,
        algorithm=algorithm,
        key=lambda request: "one-shared-client",
        store=store,
        name="burst",
    )
    app = App(request_timeout=60)

    @app.get("/limited", middleware=[RateLimit(config)])
    async def limited(request):
        return {"ok": True}

    client = TestClient(app)
    # Import httpx, connect and load the script before the cue, so the burst races only
    # on the count itself.
    warm_up = RateLimiter(limit=1, window=3600, algorithm=algorithm, store=store, name="warm")
    await warm_up.check("warm-up")
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    responses = await asyncio.gather(*(client.arequest("GET", "/limited") for _ in range(requests)))
    print(json.dumps(Counter(str(r.status) for r in responses)), flush=True)


if __name__ == "__main__":
    url, token, algorithm, requests, limit = sys.argv[1:6]
    asyncio.run(main(url, token, cast(AlgorithmName, algorithm), int(requests), int(limit)))
