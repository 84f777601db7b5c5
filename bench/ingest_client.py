"""Write-API ingest load for bench/ingest_bench.sh: posts pre-gzipped batches of records (as the
official client sends them) from N threads, one keep-alive connection each, and samples the
server's resident memory while it works.

Usage: ingest_client.py HOST PORT TOKEN PATH RECORDS BATCH CLIENTS SERVER_PID [BIG_BODY_BYTES]
Prints one JSON line: records/s, seconds, peak RSS (MB) during the run and during one big body.
"""

from __future__ import annotations

import gzip
import http.client
import json
import sys
import threading
import time


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.01)


def batches(records: int, batch: int) -> list[bytes]:
    out = []
    for start in range(0, records, batch):
        rows = [{"_id": f"r{i}", "_timestamp": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00+00:00",
                 "count": i % 997, "channel": ("online", "phone", "paper")[i % 3]}
                for i in range(start, min(records, start + batch))]
        out.append(gzip.compress(json.dumps(rows).encode()))
    return out


def post(host, port, token, path, body: bytes, gz: bool = True, conn=None):
    conn = conn or http.client.HTTPConnection(host, port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if gz:
        headers["Content-Encoding"] = "gzip"
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit(f"POST {path}: {r.status} {data[:300]!r}")
    return conn


def main():
    host, port, token, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    records, batch, clients, pid = (int(v) for v in sys.argv[5:9])
    big = int(sys.argv[9]) if len(sys.argv) > 9 else 0
    bodies = batches(records, batch)
    sampler = Sampler(pid)
    sampler.start()
    queue = list(enumerate(bodies))
    lock = threading.Lock()

    def worker():
        conn = None
        while True:
            with lock:
                if not queue:
                    return
                _, body = queue.pop()
            conn = post(host, port, token, path, body, conn=conn)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    peak_load = sampler.peak
    peak_big = 0.0
    if big:
        # One body of `big` bytes, uncompressed (the limit is 10 MB): the server's memory while it takes it.
        one = {"_id": "x" * 20, "_timestamp": "2026-11-02T00:00:00+00:00", "count": 1, "channel": "online"}
        n = big // (len(json.dumps(rows_one := dict(one, _id="big0000000000000000"))) + 2)
        body = json.dumps([dict(rows_one, _id=f"big{i:016d}") for i in range(n)]).encode()
        sampler.peak = 0.0
        post(host, port, token, path, body, gz=False)
        time.sleep(0.05)
        peak_big = sampler.peak
    sampler.stop.set()
    print(json.dumps({"records": records, "clients": clients, "seconds": round(elapsed, 3),
                      "records_per_s": round(records / elapsed), "rss_peak_mb": round(peak_load, 1),
                      "big_body_bytes": len(body) if big else 0, "rss_big_body_mb": round(peak_big, 1)}))


if __name__ == "__main__":
    main()
