#!/usr/bin/env python3
"""HTTP benchmark of the Callboard admin API on loopback, beside a pgbench baseline on the same database.

Run through scripts/bench.sh, which builds the release binary, starts PostgreSQL, seeds 100,000
requests and starts the server. Reports transitions/s and list (triage) queries/s with p50/p99 at
1, 4 and 16 clients, the server's peak RSS, and pgbench's rate for the equivalent 3-statement
transaction. Bounded: every phase stops after --seconds.
"""
import argparse, asyncio, json, os, random, statistics, subprocess, sys, time


class Conn:
    """One keep-alive HTTP/1.1 connection with just enough parsing for this API."""

    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Authorization: Bearer {self.token}",
                 f"Content-Length: {len(data)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, etag = 0, None
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "etag":
                etag = value.strip()
        payload = await self.reader.readexactly(length) if length else b""
        return status, etag, payload


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run_clients(n, seconds, make_worker):
    latencies, errors = [], [0]
    deadline = time.perf_counter() + seconds
    async def one(i):
        await make_worker(i, deadline, latencies, errors)
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, pct(latencies, 50) * 1000, pct(latencies, 99) * 1000, errors[0]


async def bench_lists(args, clients):
    queries = ["/api/v1/requests?limit=50", "/api/v1/requests?state=info_complete&limit=50",
               "/api/v1/requests?state=requested&missing=service&limit=50", "/api/v1/requests?department=dvla&limit=50",
               "/api/v1/requests?q=service&limit=20", "/api/v1/requests?state=signoff_pending,built&kind=transactional&limit=50"]
    async def worker(i, deadline, lat, errors):
        c = Conn(args.host, args.port, args.token)
        await c.open()
        rnd = random.Random(i)
        cursor = None
        while time.perf_counter() < deadline:
            q = rnd.choice(queries)
            t = time.perf_counter()
            status, _, body = await c.request("GET", q)
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors[0] += 1
        c.writer.close()
    return await run_clients(clients, args.seconds, worker)


async def bench_transitions(args, clients, ids):
    """Each client owns a slice of info_complete requests and cycles reopen_information → complete_information."""
    slices = [ids[i::clients] for i in range(clients)]
    async def worker(i, deadline, lat, errors):
        c = Conn(args.host, args.port, args.token)
        await c.open()
        mine = [[rid, None] for rid in slices[i]]
        k = 0
        while time.perf_counter() < deadline:
            item = mine[k % len(mine)]
            k += 1
            if item[1] is None:
                _, item[1], _ = await c.request("GET", f"/api/v1/requests/{item[0]}")
            for name, body in (("reopen_information", {"reason": "benchmark"}), ("complete_information", None)):
                t = time.perf_counter()
                status, etag, payload = await c.request("POST", f"/api/v1/requests/{item[0]}/transitions/{name}", body,
                                                        {"If-Match": item[1]})
                lat.append(time.perf_counter() - t)
                if status != 200:
                    errors[0] += 1
                    item[1] = None
                    break
                item[1] = etag
        c.writer.close()
    return await run_clients(clients, args.seconds, worker)


def wrk(args, clients, script, extra):
    """Load from wrk (C, like pgbench's client), so the load generator costs little CPU."""
    threads = min(2, clients)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, int(args.seconds))}s",
                          "-s", os.path.join(os.path.dirname(__file__), script), f"http://{args.host}:{args.port}", "--",
                          args.token, *extra(threads)], capture_output=True, text=True)
    line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError("wrk failed: " + out.stdout + out.stderr)
    if os.environ.get("WRK_DEBUG"):
        sys.stderr.write(out.stderr)
    r = json.loads(line)
    return r["rps"], r["p50_ms"], r["p99_ms"], r["errors"]


def current_versions(args, ids):
    """Writes "id version state" for each benchmark request as the database has it now, for wrk."""
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres", "-d", args.database, "-qtA", "-F", " ",
                          "-c", "SELECT id, version, state FROM requests WHERE id = ANY(string_to_array('" + ",".join(ids) + "', ',')::uuid[])"],
                         capture_output=True, text=True, check=True).stdout
    path = os.path.abspath(args.ids + ".now")
    with open(path, "w") as f:
        f.write(out)
    return path


def rss_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def pgbench(args, clients):
    out = subprocess.run(["pgbench", "-n", "-f", os.path.join(os.path.dirname(__file__), "pgbench_transition.sql"),
                          "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(max(1, int(args.seconds))), "-h", "127.0.0.1",
                          "-p", str(args.pg_port), "-U", "postgres", args.database], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("pgbench failed: " + out.stderr)
    out = out.stdout
    for line in out.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--pg-port", type=int, required=True)
    p.add_argument("--database", default="bench")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--ids", required=True, help="file with info_complete request ids, one per line")
    p.add_argument("--client", choices=["wrk", "python"], default="wrk",
                   help="load generator: wrk (default, light) or this script's asyncio client")
    args = p.parse_args()
    ids = open(args.ids).read().split()

    rows, peak_rss = [], 0
    for clients in (1, 4, 16):
        base = pgbench(args, clients)
        if args.client == "wrk":
            snapshot = current_versions(args, ids)
            tr = wrk(args, clients, "wrk_transition.lua", lambda threads: [snapshot, str(threads)])
            peak_rss = max(peak_rss, rss_kb(args.server_pid, "VmRSS"))
            ls = wrk(args, clients, "wrk_list.lua", lambda threads: [])
        else:
            tr = asyncio.run(bench_transitions(args, clients, ids))
            peak_rss = max(peak_rss, rss_kb(args.server_pid, "VmRSS"))
            ls = asyncio.run(bench_lists(args, clients))
        peak_rss = max(peak_rss, rss_kb(args.server_pid, "VmRSS"))
        rows.append((clients, base, tr, ls))

    print()
    print(f"{'clients':>7} | {'pgbench tx/s':>12} | {'transitions/s':>13} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | "
          f"{'lists/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'err':>4}")
    for clients, base, (trate, tp50, tp99, terr), (lrate, lp50, lp99, lerr) in rows:
        print(f"{clients:>7} | {base:>12.0f} | {trate:>13.0f} {trate / base:>6.2f} {tp50:>7.2f} {tp99:>7.2f} {terr:>4} | "
              f"{lrate:>8.0f} {lp50:>7.2f} {lp99:>7.2f} {lerr:>4}")
    hwm = rss_kb(args.server_pid, "VmHWM")
    print(f"server peak RSS: {hwm / 1024:.1f} MB (sampled under load: {peak_rss / 1024:.1f} MB)")
    sixteen = rows[-1]
    print(f"targets: transitions >= 50% of pgbench at 16 clients: {sixteen[2][0] / sixteen[1]:.0%}; "
          f"list p99 < 20 ms at 16 clients: {sixteen[3][2]:.1f} ms; RSS < 150 MB: {hwm / 1024:.0f} MB")


if __name__ == "__main__":
    main()
