#!/usr/bin/env python3
"""HTTP benchmark of the Callboard admin API on loopback, beside a pgbench baseline on the same database.

Run through scripts/bench.sh, which builds the release binary, starts PostgreSQL, seeds 100,000
requests and starts the server. Reports transitions/s, list (triage) queries/s and creates/s (POST
/api/v1/requests, each a distinct request with all eight items provided) with p50/p99 and the
count of non-2xx answers at 1, 4 and 16 clients (--clients), the server's peak RSS, and two pgbench
baselines: transition3 (bench/pgbench_transition.sql, the bare minimum of a transition) and the
replay of Callboard's own SQL for a transition (bench/pgbench_callboard_*.sql), run -M extended
(unnamed statements, as the server sends them) and -M prepared. Before the load it captures the
statements one transition of each kind sends (log_min_duration_statement = 0 for that moment) and
prints them. Bounded: every phase stops after --seconds.
--check (scripts/bench.sh --smoke) fails unless every phase made progress with no error, every
request created is in the database, information complete, and the replay scripts send the same
sequence of statements (and of CTEs) as the server was seen to send.
"""
import argparse, asyncio, hashlib, json, os, random, re, secrets, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
# Callboard's own SQL for the two transitions the benchmark cycles through, replayed by pgbench.
REPLAY = {"reopen_information": "pgbench_callboard_reopen.sql", "complete_information": "pgbench_callboard_complete.sql"}


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
    """Load from wrk (C, like pgbench's client), so the load generator costs little CPU. With --profile,
    perf samples the server (DWARF call graphs) for the phase and writes its top frames beside the data."""
    threads = min(2, clients)
    perf = None
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
        data = os.path.join(args.profile, f"{script.removeprefix('wrk_').removesuffix('.lua')}-{clients}.data")
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "499", "--call-graph", "dwarf,16384", "-q",
                                 "-p", str(args.server_pid), "-o", data, "--", "sleep", str(max(1, int(args.seconds)))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, int(args.seconds))}s",
                          "-s", os.path.join(os.path.dirname(__file__), script), f"http://{args.host}:{args.port}", "--",
                          args.token, *extra(threads)], capture_output=True, text=True)
    if perf is not None:
        perf.wait()
        with open(data.removesuffix(".data") + ".txt", "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol",
                            "--percent-limit", "0.7", "-g", "none"], stdout=f, stderr=subprocess.DEVNULL)
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


def statement_shape(sql):
    """What a statement is, for comparing the server's with a replay's: its first word and, for a WITH, its CTEs' names."""
    words = sql.split()
    first = words[0].rstrip(";").upper() if words else ""
    return first + ("(" + ",".join(re.findall(r"(\w+) AS \(", sql)) + ")" if first == "WITH" else "")


def script_shapes(path):
    """The shapes of a pgbench script's SQL statements (meta-commands and comments skipped)."""
    shapes, current = [], None
    lines = open(path).read().split("\n")
    for i, line in enumerate(lines):
        text = line.strip()
        if current is None:
            if not text or text.startswith("--") or text.startswith("\\"):
                continue
            current = []
        current.append(line)
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if text.endswith(";") or following.startswith("\\gset"):
            shapes.append(statement_shape("\n".join(current)))
            current = None
    return shapes


def logged_statements(log_text):
    """The statements a server log shows executed (log_min_duration_statement = 0), in order."""
    statements, current = [], None
    for line in log_text.split("\n"):
        if line.startswith("\t") and current is not None:
            current.append(line[1:])
            continue
        if current is not None:
            statements.append("\n".join(current))
            current = None
        m = re.search(r"LOG:  duration: [0-9.]+ ms  execute [^:]*: (.*)", line)
        if m:
            current = [m.group(1)]
    if current is not None:
        statements.append("\n".join(current))
    return statements


async def capture_transition_sql(args, rid):
    """Every statement one reopen_information and one complete_information send, read from PostgreSQL's log
    (the GET that fetches the ETag first is left out of the window)."""
    psql(args, "ALTER SYSTEM SET log_min_duration_statement = 0")
    psql(args, "SELECT pg_reload_conf()")
    captured = {}
    c = Conn(args.host, args.port, args.token)
    await c.open()
    try:
        await asyncio.sleep(0.3)  # the reload reaches every backend
        # Twice round: the second pair is the benchmark's steady state (a reopen then settles the SLA
        # reminder the complete before it started); the second capture of each is kept.
        for name in list(REPLAY) * 2:
            _, etag, _ = await c.request("GET", f"/api/v1/requests/{rid}")
            start = os.path.getsize(args.pg_log)
            status, _, _ = await c.request("POST", f"/api/v1/requests/{rid}/transitions/{name}",
                                           {"reason": "benchmark"} if name == "reopen_information" else None, {"If-Match": etag})
            await asyncio.sleep(0.3)  # the backend has written its log lines
            with open(args.pg_log) as f:
                f.seek(start)
                captured[name] = (status, logged_statements(f.read()))
    finally:
        c.writer.close()
        psql(args, "ALTER SYSTEM RESET log_min_duration_statement")
        psql(args, "SELECT pg_reload_conf()")
    return captured


def replay_problems(captured):
    """Where the replay scripts no longer send what the server sends (the throttled token touch aside)."""
    problems = []
    for name, (status, statements) in captured.items():
        # The token's last use is written at most once a minute: amortised, so not replayed; SELECT 1 is
        # the database monitor's probe on its own connection.
        got = [statement_shape(s) for s in statements
               if not s.startswith("UPDATE api_tokens SET last_used_at") and s.strip() != "SELECT 1"]
        want = script_shapes(os.path.join(HERE, REPLAY[name]))
        if status != 200:
            problems.append(f"{name} answered {status} while its SQL was captured")
        elif got != want:
            problems.append(f"{name}: the server sent {got}, {REPLAY[name]} replays {want}")
    return problems


def pgbench(args, clients, rows, scripts=("pgbench_transition.sql",), mode="simple", defines=()):
    files = [a for script in scripts for a in ("-f", os.path.join(HERE, script))]
    out = subprocess.run(["pgbench", "-n", "-M", mode, *files, "-D", f"rows={rows}", *[a for d in defines for a in ("-D", d)],
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
    p.add_argument("--pg-log", required=True, help="PostgreSQL's log file, where the transitions' SQL is captured")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--clients", default="1,4,16", help="comma-separated client counts, one round of phases each")
    p.add_argument("--ids", required=True, help="file with info_complete request ids, one per line")
    p.add_argument("--client", choices=["wrk", "python"], default="wrk",
                   help="load generator: wrk (default, light) or this script's asyncio client")
    p.add_argument("--with-worker", action="store_true", help="the server runs the email worker too (serve --with-worker)")
    p.add_argument("--profile", metavar="DIR", help="sample the server with perf during each wrk phase; data and top frames in DIR")
    p.add_argument("--check", action="store_true",
                   help="fail unless every phase made progress without errors and every create is stored, information complete")
    args = p.parse_args()
    ids = open(args.ids).read().split()
    counts = [int(c) for c in args.clients.split(",")]
    rows_seeded = int(psql(args, "SELECT count(*) FROM bench_ids"))
    # Each create's names carry this run's tag, so no two bodies in a run (or across runs) are alike.
    run_tag = secrets.token_hex(3)

    if args.with_worker:
        # The worker's own statements would land in the same window of the log.
        captured = None
        print("The SQL one transition sends: not captured, the email worker shares the server's process (--with-worker)")
    else:
        captured = asyncio.run(capture_transition_sql(args, ids[0]))
        print("The SQL one transition sends (captured from PostgreSQL's log):")
        for name, (status, statements) in captured.items():
            print(f"  {name} ({status}): " + " → ".join(statement_shape(s) for s in statements if s.strip() != "SELECT 1"))
    token_hash = "\\x" + hashlib.sha256(args.token.encode()).hexdigest()
    actor = psql(args, "SELECT staff_id FROM api_tokens WHERE token_hash = '" + token_hash + "'")
    replay = dict(scripts=tuple(REPLAY.values()), defines=(f"token_hash={token_hash}", f"actor={actor}"))

    rows, peak_rss = [], 0
    for clients in counts:
        base = pgbench(args, clients, rows_seeded)
        own = pgbench(args, clients, rows_seeded, mode="extended", **replay)
        own_prepared = pgbench(args, clients, rows_seeded, mode="prepared", **replay)
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
        rows.append((clients, base, own, own_prepared, tr, ls, cr))

    print()
    print("pgbench tx/s: transition3 = bench/pgbench_transition.sql; own = Callboard's own SQL replayed (-M extended, as sent);"
          " own prep = the same -M prepared. Ratios: transitions/s over own and over transition3.")
    print(f"{'clients':>7} | {'transition3':>11} {'own':>6} {'own prep':>8} | {'transitions/s':>13} {'/own':>5} {'/tr3':>5} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'err':>4} | "
          f"{'lists/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | {'creates/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'err':>4}")
    for clients, base, own, own_prepared, tr, ls, cr in rows:
        print(f"{clients:>7} | {base:>11.0f} {own:>6.0f} {own_prepared:>8.0f} | {tr['rps']:>13.0f} {tr['rps'] / own:>5.2f} "
              f"{tr['rps'] / base:>5.2f} {tr['p50_ms']:>7.2f} {tr['p99_ms']:>7.2f} "
              f"{tr['errors']:>4} | {ls['rps']:>8.0f} {ls['p50_ms']:>7.2f} {ls['p99_ms']:>7.2f} {ls['errors']:>4} | "
              f"{cr['rps']:>9.0f} {cr['p50_ms']:>7.2f} {cr['p99_ms']:>7.2f} {cr['errors']:>4}")
    for clients, *_, cr in rows:
        answers = ", ".join(f"{n} × {s}" for s, n in sorted(cr["statuses"].items())) or "none"
        print(f"creates at {clients} clients: answers {answers}; {cr['stored']} stored, {cr['complete']} information complete")
    hwm = rss_kb(args.server_pid, "VmHWM")
    print(f"server peak RSS: {hwm / 1024:.1f} MB (sampled under load: {peak_rss / 1024:.1f} MB), "
          + ("with the email worker, scheduler and retention job in its process" if args.with_worker else "without the worker"))
    by = {r[0]: r for r in rows}
    targets = [f"RSS < 64 MB: {hwm / 1024:.0f} MB"]
    if 16 in by:
        _, base, own, own_prepared, tr, ls, _ = by[16]
        # The server sends its hot statements prepared, so the prepared replay is the fair bound.
        targets[:0] = [f"transitions >= 0.8 x own SQL at 16 clients: {tr['rps'] / own:.2f} "
                       f"({tr['rps'] / own_prepared:.2f} of the prepared replay)",
                       f"transitions >= 0.5 x transition3 at 16 clients: {tr['rps'] / base:.2f}",
                       f"list p99 < 20 ms at 16 clients: {ls['p99_ms']:.1f} ms"]
    if 4 in by:
        targets.append(f"creates >= 1,000/s at 4 clients: {by[4][6]['rps']:.0f}/s")
    print("targets: " + "; ".join(targets))

    if args.check:
        problems = replay_problems(captured) if captured else []
        for clients, base, own, own_prepared, tr, ls, cr in rows:
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
        print("check: every phase made progress with no error; every create stored, information complete; "
              "the replay sends the statements the server sends")


if __name__ == "__main__":
    main()
