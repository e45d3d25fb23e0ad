"""python -m benchmarks.serve_load CKPT: N streaming clients against `wordgen serve` for a fixed time.

Starts `wordgen serve CKPT --port 0` as a separate process on loopback (so the
clients here do not share its interpreter), then runs `--clients` threads that
each POST /api/generate over and over for `--seconds`, reading the server-sent
events as they come. It stops by itself: at the deadline no new request starts
(the ones running finish, each at most `--max-tokens` tokens), and never more
than `--max-requests` requests in all. The server is stopped at the end.

Reported: requests, HTTP errors and "busy" answers (503), tokens, tokens/s over
all clients, time to first token (request sent -> first token event) and the
time between two tokens of one stream (p50 / p95). Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    values = sorted(values)
    pos = (len(values) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def start_server(checkpoint: str, max_concurrent: int) -> tuple[subprocess.Popen, int]:
    """`wordgen serve` on a free loopback port; returns the process and the port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wordgen.cli", "serve", checkpoint, "--port", "0", "--max-concurrent",
         str(max_concurrent), "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first = process.stdout.readline()  # "wordgen playground: http://127.0.0.1:PORT/  (...)"
    if "http://127.0.0.1:" not in first:
        process.kill()
        raise SystemExit(f"the server did not start: {first}{process.stderr.read()}")
    return process, int(first.split("http://127.0.0.1:")[1].split("/")[0])


def one_request(port: int, body: dict) -> dict:
    """One streamed generation: status, time to first token, gaps between tokens."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/api/generate", body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            response.read()
            return {"status": response.status}
        last, first, gaps, tokens, failed = None, None, [], 0, False
        event = None
        while True:
            line = response.readline()
            if not line:
                break
            if line.startswith(b"event: "):
                event = line[7:].strip().decode()
            elif line.startswith(b"data: "):
                if event == "token":
                    now = time.perf_counter()
                    if first is None:
                        first = now - start
                    else:
                        gaps.append(now - last)
                    last = now
                    tokens += 1
                elif event == "error":
                    failed = True
        return {"status": 200, "ttft": first, "gaps": gaps, "tokens": tokens, "failed": failed}
    except OSError as err:
        return {"status": None, "error": repr(err)}
    finally:
        conn.close()


def run_load(port: int, clients: int, seconds: float, max_requests: int, body: dict) -> dict:
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    results: list[dict] = []
    started = [0]

    def client(i: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            with lock:
                if started[0] >= max_requests:
                    return
                started[0] += 1
            result = one_request(port, {**body, "seed": i * 1000 + n})
            n += 1
            with lock:
                results.append(result)
            if result["status"] == 503:
                time.sleep(0.2)  # the server said busy: back off before asking again

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = [r for r in results if r["status"] == 200 and not r.get("failed")]
    ttft = [r["ttft"] for r in ok if r["ttft"] is not None]
    gaps = [g for r in ok for g in r["gaps"]]
    tokens = sum(r["tokens"] for r in ok)
    return {
        "clients": clients, "seconds": round(wall, 2), "requests": len(results), "completed": len(ok),
        "busy_503": sum(r["status"] == 503 for r in results),
        "errors": sum(r["status"] not in (200, 503) or bool(r.get("failed")) for r in results),
        "tokens": tokens, "tokens_per_s": round(tokens / wall, 1),
        "ttft_p50_ms": round(1000 * percentile(ttft, 50), 1), "ttft_p95_ms": round(1000 * percentile(ttft, 95), 1),
        "token_p50_ms": round(1000 * percentile(gaps, 50), 2), "token_p95_ms": round(1000 * percentile(gaps, 95), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="checkpoint folder to serve")
    parser.add_argument("--clients", default="1,4,8", help="concurrent clients, one run per value (default: 1,4,8)")
    parser.add_argument("--seconds", type=float, default=20, help="length of each run (default: 20)")
    parser.add_argument("--max-requests", type=int, default=1000, help="request cap per run (default: 1000)")
    parser.add_argument("--max-tokens", type=int, default=100, help="tokens per request (default: 100)")
    parser.add_argument("--max-concurrent", type=int, default=4,
                        help="the server's --max-concurrent; more clients get 503 busy (default: 4)")
    parser.add_argument("--prompt", default="ROMEO:", help="prompt of every request (default: ROMEO:)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    body = {"checkpoint": Path(args.checkpoint).resolve().name, "prompt": args.prompt,
            "max_tokens": args.max_tokens, "temperature": 0.8}
    process, port = start_server(args.checkpoint, args.max_concurrent)
    rows = []
    try:
        one_request(port, {**body, "max_tokens": 5})  # warm-up: weights packed, first-call costs paid
        for clients in (int(c) for c in args.clients.split(",")):
            rows.append(run_load(port, clients, args.seconds, args.max_requests, body))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)

    print(f"\n{platform.node()}: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"{args.max_tokens} tokens per request, server --max-concurrent {args.max_concurrent}")
    print("| clients | requests | errors | busy (503) | tokens/s | first token p50 / p95 | per token p50 / p95 |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {r['clients']} | {r['requests']} | {r['errors']} | {r['busy_503']} | {r['tokens_per_s']:,.0f} | "
              f"{r['ttft_p50_ms']:.0f} / {r['ttft_p95_ms']:.0f} ms | {r['token_p50_ms']:.1f} / {r['token_p95_ms']:.1f} ms |")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=2) + "\n")
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
