#!/usr/bin/env python3
"""HTTP benchmark of the Callboard admin API on loopback, beside a pgbench baseline on the same database.

Run through scripts/bench.sh, which builds the release binary, starts PostgreSQL, seeds 100,000
requests and starts the server. Reports transitions/s, list (triage) queries/s and creates/s (POST
/api/v1/requests, each a distinct request with all eight items provided) with p50/p99 and the
count of non-2xx answers at 1, 4 and 16 clients (--clients), the server's peak RSS, and pgbench's
rate for the equivalent 3-statement transaction. Bounded: every phase stops after --seconds.
--check (scripts/bench.sh --smoke) fails unless every phase made progress with no error and every
request created is in the database, information complete.
"""
import argparse, asyncio, json, os, random, secrets, statistics, subprocess, sys, time


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


def phase(rps, p50, p99, errors, requests, statuses=None):
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": requests, "statuses": statuses or {}}


async def run_clients(n, seconds, make_worker, statuses=None):
    latencies, errors = [], [0]
    deadline = time.perf_counter() + seconds
    async def one(i):
        await make_worker(i, deadline, latencies, errors)
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    return phase(len(latencies) / elapsed, pct(latencies, 50) * 1000, pct(latencies, 99) * 1000, errors[0], len(latencies),
                 statuses)


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


def create_body(k, department):
    """A distinct transactional request with all eight items provided (the body of bench/wrk_create.lua)."""
    def provided(value):
        return {"status": "provided", "value": value}
    return {"kind": "transactional", "department": department, "items": {
        "contact": provided({"name": f"Contact {k}", "email": f"contact-{k}@example.gov.uk", "phone": "020 7946 0000"}),
        "sign_off_contact": provided({"name": f"Sign-off {k}", "email": f"signoff-{k}@example.gov.uk", "phone": "020 7946 0001"}),
        "service": provided({"name": f"Benchmark service {k}", "description": f"A service made by the create benchmark ({k})",
                             "start_page_url": f"https://www.gov.uk/bench-{k}"}),
        "cost_per_transaction": provided({"transactions_explorer_url": f"https://www.gov.uk/performance/bench-{k}"}),
        "user_satisfaction": provided({"done_page_url": f"https://www.gov.uk/done/bench-{k}"}),
        "completion_rate": provided({"analytics_provider": "google_analytics", "read_access_granted": True,
                                     "goals": [{"name": "Apply", "start": f"/bench-{k}/start", "completion": f"/bench-{k}/done"}]}),
        "digital_take_up": provided({"spreadsheet_reference": f"volumes-{k}.xlsx",
                                     "uploaders": [{"name": f"Uploader {k}", "email": f"uploader-{k}@example.gov.uk"}]}),
        "service_availability": provided({"health_check_url": f"https://www.gov.uk/bench-{k}/health"}),
    }}


DEPARTMENTS = ["DVLA", "HMRC", "DWP", "HMPO", "DEFRA", "MOJ", "Home Office", "Companies House"]


async def bench_creates(args, clients, tag):
    statuses = {}
    async def worker(i, deadline, lat, errors):
        c = Conn(args.host, args.port, args.token)
        await c.open()
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            t = time.perf_counter()
            status, _, _ = await c.request("POST", "/api/v1/requests", create_body(f"{tag}-{i}-{n}", DEPARTMENTS[n % 8]))
            lat.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1
            if not 200 <= status < 300:
                errors[0] += 1
        c.writer.close()
    return await run_clients(clients, args.seconds, worker, statuses)


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
    return phase(r["rps"], r["p50_ms"], r["p99_ms"], r["errors"], r["requests"], {int(k): v for k, v in r.get("statuses", {}).items()})


def psql(args, sql):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres", "-d", args.database, "-qtA",
                           "-c", sql], capture_output=True, text=True, check=True).stdout.strip()


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


def pgbench(args, clients, rows):
    out = subprocess.run(["pgbench", "-n", "-f", os.path.join(os.path.dirname(__file__), "pgbench_transition.sql"), "-D", f"rows={rows}",
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
    p.add_argument("--clients", default="1,4,16", help="comma-separated client counts, one round of phases each")
    p.add_argument("--ids", required=True, help="file with info_complete request ids, one per line")
    p.add_argument("--client", choices=["wrk", "python"], default="wrk",
                   help="load generator: wrk (default, light) or this script's asyncio client")
    p.add_argument("--check", action="store_true",
                   help="fail unless every phase made progress without errors and every create is stored, information complete")
    args = p.parse_args()
    ids = open(args.ids).read().split()
    counts = [int(c) for c in args.clients.split(",")]
    rows_seeded = int(psql(args, "SELECT count(*) FROM bench_ids"))
    # Each create's names carry this run's tag, so no two bodies in a run (or across runs) are alike.
    run_tag = secrets.token_hex(3)

    rows, peak_rss = [], 0
    for clients in counts:
        base = pgbench(args, clients, rows_seeded)
        tag = f"{run_tag}c{clients}"
        if args.client == "wrk":
            snapshot = current_versions(args, ids)
            tr = wrk(args, clients, "wrk_transition.lua", lambda threads: [snapshot, str(threads)])
            peak_rss = max(peak_rss, rss_kb(args.server_pid, "VmRSS"))
            ls = wrk(args, clients, "wrk_list.lua", lambda threads: [])
            peak_rss = max(peak_rss, rss_kb(args.server_pid, "VmRSS"))
            cr = wrk(args, clients, "wrk_create.lua", lambda threads: [tag])
        else:
            tr = asyncio.run(bench_transitions(args, clients, ids))
            peak_rss = max(peak_rss, rss_kb(args.server_pid, "VmRSS"))
            ls = asyncio.run(bench_lists(args, clients))
            peak_rss = max(peak_rss, rss_kb(args.server_pid, "VmRSS"))
            cr = asyncio.run(bench_creates(args, clients, tag))
        peak_rss = max(peak_rss, rss_kb(args.server_pid, "VmRSS"))
        cr["stored"], cr["complete"] = (int(x) for x in psql(args,
            "SELECT count(*) || ' ' || count(*) FILTER (WHERE state = 'info_complete') FROM requests "
            f"WHERE service_name LIKE 'Benchmark service {tag}-%'").split())
        rows.append((clients, base, tr, ls, cr))

    print()
    print(f"{'clients':>7} | {'pgbench tx/s':>12} | {'transitions/s':>13} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | "
          f"{'lists/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | {'creates/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'err':>4}")
    for clients, base, tr, ls, cr in rows:
        print(f"{clients:>7} | {base:>12.0f} | {tr['rps']:>13.0f} {tr['rps'] / base:>6.2f} {tr['p50_ms']:>7.2f} {tr['p99_ms']:>7.2f} "
              f"{tr['errors']:>4} | {ls['rps']:>8.0f} {ls['p50_ms']:>7.2f} {ls['p99_ms']:>7.2f} {ls['errors']:>4} | "
              f"{cr['rps']:>9.0f} {cr['p50_ms']:>7.2f} {cr['p99_ms']:>7.2f} {cr['errors']:>4}")
    for clients, _, _, _, cr in rows:
        answers = ", ".join(f"{n} × {s}" for s, n in sorted(cr["statuses"].items())) or "none"
        print(f"creates at {clients} clients: answers {answers}; {cr['stored']} stored, {cr['complete']} information complete")
    hwm = rss_kb(args.server_pid, "VmHWM")
    print(f"server peak RSS: {hwm / 1024:.1f} MB (sampled under load: {peak_rss / 1024:.1f} MB)")
    by = {r[0]: r for r in rows}
    targets = [f"RSS < 150 MB: {hwm / 1024:.0f} MB"]
    if 16 in by:
        targets[:0] = [f"transitions >= 50% of pgbench at 16 clients: {by[16][2]['rps'] / by[16][1]:.0%}",
                       f"list p99 < 20 ms at 16 clients: {by[16][3]['p99_ms']:.1f} ms"]
    if 4 in by:
        targets.append(f"creates >= 1,000/s at 4 clients: {by[4][4]['rps']:.0f}/s")
    print("targets: " + "; ".join(targets))

    if args.check:
        problems = []
        for clients, base, tr, ls, cr in rows:
            for name, ph in (("transitions", tr), ("lists", ls), ("creates", cr)):
                if ph["requests"] == 0:
                    problems.append(f"{clients} clients: no {name} completed")
                if ph["errors"]:
                    problems.append(f"{clients} clients: {ph['errors']} {name} failed")
            created = sum(n for s, n in cr["statuses"].items() if 200 <= s < 300)
            # wrk stops with requests in flight that the server may still have carried out: at least as many stored.
            if cr["stored"] < created or cr["complete"] != cr["stored"]:
                problems.append(f"{clients} clients: {created} creates answered 2xx, but {cr['stored']} stored "
                                f"and {cr['complete']} information complete")
        if problems:
            sys.exit("check failed: " + "; ".join(problems))
        print("check: every phase made progress with no error; every create stored, information complete")


if __name__ == "__main__":
    main()
