#!/usr/bin/env python3
"""Turns the key=value lines scripts/bench.sh collected into ONE Markdown table,
prints it and writes BENCHMARKS.md (date, command, machine, table)."""
import argparse
import datetime
import platform
import statistics
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("--command", required=True)
ap.add_argument("--cpu", required=True)
ap.add_argument("--cores", required=True)
ap.add_argument("--pinning", required=True)
ap.add_argument("--build-seconds", required=True)
ap.add_argument("--seed-seconds", required=True)
ap.add_argument("--total-seconds", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--profile", help="scripts/profile-verify.sh's output (row 8)")
a = ap.parse_args()

rows = []
for line in open(a.results):
    fields = dict(p.split("=", 1) for p in line.split() if "=" in p)
    if fields:
        rows.append(fields)


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def f(v, d=0):
    if v != v:  # nan
        return "—"
    return f"{v:,.{d}f}"


table = []  # (number, benchmark, configuration, throughput, p50, p99, p999, notes)
LOAD = [
    ("verify", "1", "Verify, our protocol: apikeysd, SQLite store, 100,000 keys"),
    ("verify-access-log", "1b", "Verify, access log on: apikeysd as in row 1 with --log-level info --access-log on (logfmt, stderr to a file)"),
    ("echo", "2", "The limit: echo of our frames (bench-echo)"),
    ("grpc", "3", "gRPC peer: grpc-swift-2 server + client, HTTP/2, dictionary lookup"),
    ("http", "4", "HTTP/JSON peer: Hummingbird 2, POST /v1/keys:verify (NIO HTTP/1.1 client, pipelined)"),
]
CONFIGS = [("1", "1"), ("16", "1"), ("16", "4"), ("128", "1"), ("128", "4")]
summary = {}  # (row, inflight, conns) -> dict of medians


def ratio_to(row, n, c, s, what):
    """"0.97× row 1 (what)" when row 1 ran the same configuration."""
    base = summary.get((row, n, c))
    if not base or base["rps"] != base["rps"] or not base["rps"]:
        return ""
    return f"; **{s['rps'] / base['rps']:.2f}×** {what}"


def combine_servers(runs):
    """Lines of one run against several servers at once (three bench-load processes, one per
    server) as one: throughputs and calls add up, server CPU per call over all calls, p50
    the mean and p99/p99.9 the worst of the servers'; client CPU adds up (one core)."""
    by_run = {}
    for r in runs:
        by_run.setdefault(r.get("run"), []).append(r)
    combined = []
    for parts in by_run.values():
        calls = sum(num(p.get("calls")) for p in parts)
        cpu = sum(num(p.get("server_cpu_us_per_call")) * num(p.get("calls")) for p in parts)
        combined.append({
            "rps": str(sum(num(p["rps"]) for p in parts)),
            "p50_us": str(statistics.mean(num(p.get("p50_us")) for p in parts)),
            "p99_us": str(max(num(p.get("p99_us")) for p in parts)),
            "p999_us": str(max(num(p.get("p999_us")) for p in parts)),
            "server_cpu_us_per_call": str(cpu / calls if calls else float("nan")),
            "client_cpu_pct": str(sum(num(p.get("client_cpu_pct")) for p in parts)),
            "errors": str(sum(int(p.get("errors", "0")) for p in parts)),
            "servers": str(len(parts)),
        })
    return combined


def load_rows(row, number, title, configs=CONFIGS, combine=False, config_label=None, extra_notes=None):
    for n, c in configs:
        runs = [r for r in rows if r.get("row") == row and r.get("inflight") == n and r.get("connections") == c]
        if combine:
            runs = combine_servers(runs)
        if not runs:
            continue
        rps = sorted(num(r["rps"]) for r in runs)
        med = lambda k: statistics.median(num(r.get(k)) for r in runs)
        errors = sum(int(r.get("errors", "0")) for r in runs)
        s = {"rps": statistics.median(rps), "p50": med("p50_us"), "p99": med("p99_us"), "p999": med("p999_us"),
             "cpu": med("server_cpu_us_per_call"), "client": med("client_cpu_pct")}
        summary[(row, n, c)] = s
        notes = f"server CPU {f(s['cpu'], 1)} µs/call; client CPU {f(s['client'])}%"
        if extra_notes:
            notes += extra_notes(n, c, s)
        if errors:
            notes += f"; **{errors} errors**"
        label = config_label(n, c) if config_label else f"{n} in flight, {c} conn"
        table.append((number, title, label, f"{f(rps[0])} / **{f(statistics.median(rps))}** / {f(rps[-1])}",
                      f(s["p50"], 1), f(s["p99"], 1), f(s["p999"], 1), notes))


access_log_file = next((r for r in rows if r.get("row") == "access-log-file"), None)


def access_log_notes(n, c, s):
    text = ratio_to("verify", n, c, s, "row 1 (access log off)")
    if access_log_file and num(access_log_file.get("lines")) > 0:
        text += f"; {f(num(access_log_file['bytes']) / num(access_log_file['lines']))} B per line"
    return text


for row, number, title in LOAD:
    load_rows(row, number, title, extra_notes=access_log_notes if row == "verify-access-log" else None)

codec = [r for r in rows if r.get("row") == "codec"]
for r in codec:
    table.append(("5", f"Codec: Verify {r['frame']} frame + message, {r['codec']}", f"{r['bytes']} B frame",
                  f"{f(num(r['total_ns']))} ns enc+dec", "", "", "",
                  f"encode {r['encode_ns']} ns + decode {r['decode_ns']} ns; allocations: {r['encode_allocs']} + {r['decode_allocs']} per frame"))

gen = [r for r in rows if r.get("row") == "storage" and r.get("op") == "generate"]
for r in gen:
    callers = r.get("callers", "1")
    table.append(("6", "Storage: Keys/Generate, durable commits (synchronous=FULL), group commit",
                  f"in process, fresh store, {callers} caller{'s' if callers != '1' else ''}",
                  f"{f(num(r['keys_per_s']))} keys/s", r["p50_us"], r["p99_us"], "",
                  f"{r['calls']} keys in 5 s; {r.get('writes_per_commit', '?')} writes per commit"))
list_worst = {}
for keys in ["k10k", "k100k", "k1m"]:
    shapes = [r for r in rows if r.get("row") == "storage" and r.get("op") == "list" and r.get("keys") == keys]
    if not shapes:
        continue
    label = {"k10k": "10,000", "k100k": "100,000", "k1m": "1,000,000"}[keys]
    allrow = next((r for r in shapes if r["shape"] == "all"), None)
    parts = [f"{r['shape']} {r['p50_us']}/{r['p99_us']}" for r in shapes if r["shape"] != "all"]
    worst = max((num(r["p99_us"]) for r in shapes if r["shape"] != "all"), default=float("nan"))
    list_worst[keys] = worst
    table.append(("6", f"Storage: Keys/List as admin (search, sort, paging), {label} keys", "in process, 20–50 rows/page",
                  "", allrow["p50_us"] if allrow else "", allrow["p99_us"] if allrow else "", "",
                  "p50/p99 µs by shape: " + "; ".join(parts)))
startup = {}
for keys in ["k0", "k100k", "k1m"]:
    rs = [r for r in rows if r.get("row") == "startup" and r.get("keys") == keys]
    if rs:
        startup[keys] = (sorted(num(r["startup_ms"]) for r in rs), statistics.median(num(r["rss_kb"]) for r in rs))
if "k1m" in startup and "k0" in startup:
    ms, rss1m = startup["k1m"]
    rss0 = startup["k0"][1]
    rss100k = startup.get("k100k", ([], float("nan")))[1]
    table.append(("6", "Storage: apikeysd start-up, 1,000,000 keys (to listening)", "warm page cache",
                  f"{f(ms[0])} / **{f(statistics.median(ms))}** / {f(ms[-1])} ms", "", "", "",
                  f"empty store: {f(statistics.median(startup['k0'][0]))} ms"))
    table.append(("6", "Storage: apikeysd resident memory per 100,000 keys", "idle, after start-up",
                  f"{f((rss1m - rss0) / 10 / 1024, 1)} MiB", "", "", "",
                  f"RSS: empty {f(rss0 / 1024, 1)} MiB, 100k {f(rss100k / 1024, 1)} MiB, 1M {f(rss1m / 1024, 1)} MiB"))


# --- 7. PostgreSQL (issue 10) ---
PG_CONFIGS = [("1", "1"), ("16", "4"), ("128", "4")]
load_rows("verify-pg", "7", "Verify, our protocol: apikeysd, PostgreSQL store (durable), 100,000 keys, one server", PG_CONFIGS,
          extra_notes=lambda n, c, s: ratio_to("verify", n, c, s, "row 1 (SQLite)"))
load_rows("verify-pg3", "7", "Verify, our protocol: three apikeysd on one PostgreSQL database, 100,000 keys", PG_CONFIGS,
          combine=True, config_label=lambda n, c: f"3 servers × ({n} in flight, {c} conn)",
          extra_notes=lambda n, c, s: "; **all three servers share one core**; summed over the servers"
                                      + ratio_to("verify-pg", n, c, s, "one server"))
for r in [r for r in rows if r.get("row") == "pg-generate"]:
    servers, callers = r.get("servers", "1"), r.get("callers", "1")
    if r.get("store") == "postgres":
        title = "Storage: Keys/Generate on PostgreSQL (fsync on, serializable), in process"
        config = f"{servers} server{'s' if servers != '1' else ''} ({'APIKeyService + PostgresKeyStore each' if servers != '1' else 'APIKeyService + PostgresKeyStore'}), {callers} caller{'s' if callers != '1' else ''}"
    else:
        title = "Storage: Keys/Generate on SQLite (synchronous=FULL), in process"
        config = f"1 server, {callers} caller{'s' if callers != '1' else ''}"
    table.append(("7", title, config, f"{f(num(r['keys_per_s']))} keys/s", r["p50_us"], r["p99_us"], "",
                  f"{r['calls']} keys in {r.get('seconds', '5')} s"))
prop = {r["what"]: r for r in rows if r.get("row") == "propagation"}
for what, title in [("revoke_to_refused_everywhere", "Propagation: Revoke acknowledged on A to refused on B and C (the later)"),
                    ("generate_to_verified_on_b", "Propagation: Generate acknowledged on A to verifying on B")]:
    r = prop.get(what)
    if not r:
        continue
    notes = f"p50 / p99 / max {r['p50_ms']} / {r['p99_ms']} / {r['max_ms']} ms over {r['n']} calls"
    if what == "revoke_to_refused_everywhere":
        b, c = prop.get("revoke_to_refused_on_b"), prop.get("revoke_to_refused_on_c")
        if b and c:
            notes += f"; on B alone p50/p99/max {b['p50_ms']}/{b['p99_ms']}/{b['max_ms']} ms, on C alone {c['p50_ms']}/{c['p99_ms']}/{c['max_ms']} ms"
    table.append(("7", title, f"{r.get('servers', '3')} apikeysd (release, not pinned), one database",
                  f"max {f(num(r['max_ms']), 1)} ms", f(num(r["p50_ms"]) * 1000, 0), f(num(r["p99_ms"]) * 1000, 0), "", notes))
pg_startup = {}
for r in [r for r in rows if r.get("row") == "pg-startup"]:
    pg_startup.setdefault(int(r["keys"]), []).append(r)
pg_seed = {r.get("schema"): r for r in rows if r.get("row") == "pg-seed"}
if pg_startup:
    most = max(pg_startup)
    ms = sorted(num(r["startup_ms"]) for r in pg_startup[most])
    notes = []
    for keys in sorted(pg_startup):
        if keys != most:
            notes.append(f"{keys:,} keys: {f(statistics.median(num(r['startup_ms']) for r in pg_startup[keys]))} ms")
    if "k1m" in startup and most == 1_000_000:
        notes.append(f"SQLite at 1,000,000 (row 6): {f(statistics.median(startup['k1m'][0]))} ms")
    table.append(("7", f"Storage: apikeysd start-up from PostgreSQL, {most:,} keys (to listening)", "warm database cache",
                  f"{f(ms[0])} / **{f(statistics.median(ms))}** / {f(ms[-1])} ms", "", "", "", "; ".join(notes)))
    rss = {k: statistics.median(num(r["rss_kb"]) for r in v) for k, v in pg_startup.items()}
    notes = [f"{k:,} keys: {f(v / 1024, 1)} MiB" for k, v in sorted(rss.items()) if k != most]
    if "k1m" in startup and most == 1_000_000:
        notes.append(f"SQLite at 1,000,000 (row 6): {f(startup['k1m'][1] / 1024, 1)} MiB")
    table.append(("7", f"Storage: apikeysd resident memory, PostgreSQL store, {most:,} keys", "idle, after start-up",
                  f"{f(rss[most] / 1024, 1)} MiB", "", "", "", "; ".join(notes)))

# Goals: saturation = the best median throughput over the load configurations.
def saturation(row):
    vals = [(s["rps"], k) for k, s in summary.items() if k[0] == row]
    return max(vals) if vals else (float("nan"), None)


def verdict(ok):
    return "met" if ok else "**missed**"


v, vk = saturation("verify")
goals = []
for row, name, factor in [("grpc", "grpc-swift-2", 3), ("http", "Hummingbird JSON", 3)]:
    p, _ = saturation(row)
    if v == v and p == p:
        goals.append((f"Verify throughput ≥ {factor}× {name}", f"{v / p:.2f}× ({f(v)} vs {f(p)} calls/s)", v / p >= factor))
# Issue 14's goals, each in the configuration it names, against the echo limit of this run.
for n, c, share in [("128", "4", 0.25), ("16", "1", 0.5)]:
    sv, se = summary.get(("verify", n, c)), summary.get(("echo", n, c))
    if sv and se:
        goals.append((f"Verify ≥ {share:g} of the echo limit at {n} in flight, {c} conn (issue 14, goal 1)",
                      f"{sv['rps'] / se['rps']:.3f} ({f(sv['rps'])} vs {f(se['rps'])} calls/s)", sv["rps"] / se["rps"] >= share))
s = summary.get(("verify", "128", "4"))
if s:
    goals.append(("Server CPU ≤ 3 µs per Verify at 128 in flight, 4 conn (issue 14, goal 1)", f"{f(s['cpu'], 1)} µs", s["cpu"] <= 3))
for c in ["1", "4"]:
    s = summary.get(("verify", "16", c))
    if s:
        goals.append((f"Verify p99 < 300 µs and p99.9 < 1 ms at 16 in flight, {c} conn (issue 14, goal 2)",
                      f"p99 {f(s['p99'], 1)} µs, p99.9 {f(s['p999'], 1)} µs", s["p99"] < 300 and s["p999"] < 1000))
if "k1m" in list_worst:
    goals.append(("Keys/List p99 < 20 ms for every shape at 1,000,000 keys (issue 14, goal 4; worst shape)", f"{f(list_worst['k1m'] / 1000, 2)} ms", list_worst["k1m"] < 20000))
if "k1m" in startup:
    m = statistics.median(startup["k1m"][0])
    goals.append(("Start-up < 5 s at 1,000,000 keys", f"{f(m / 1000, 2)} s", m < 5000))
ratios = [(n, c, summary[("verify-pg", n, c)]["rps"] / summary[("verify", n, c)]["rps"])
          for n, c in [("16", "4"), ("128", "4")] if ("verify-pg", n, c) in summary and ("verify", n, c) in summary]
if ratios:
    goals.append(("Verify throughput on PostgreSQL within 10% of SQLite (issue 10; rows 7 / 1)",
                  "; ".join(f"{r:.2f}× at {n}/{c}" for n, c, r in ratios), min(r for _, _, r in ratios) >= 0.9))
gen16 = next((r for r in gen if r.get("callers") == "16"), None)
gen1 = next((r for r in gen if r.get("callers") == "1"), None)
if gen16:
    rate = num(gen16["keys_per_s"])
    alone = f"; 1 caller {f(num(gen1['keys_per_s']))} keys/s at {gen1.get('writes_per_commit', '?')} writes per commit" if gen1 else ""
    goals.append(("Generate ≥ 5,000 keys/s with 16 concurrent callers, group commit (issue 14, goal 5; row 6)",
                  f"{f(rate)} keys/s, {gen16.get('writes_per_commit', '?')} writes per commit{alone}", rate >= 5000))
if "k1m" in startup and "k0" in startup:
    per_key = (startup["k1m"][1] - startup["k0"][1]) * 1024 / 1_000_000
    goals.append(("Memory ≤ 120 bytes per key at 1,000,000 keys (issue 14, goal 6; row 6; 10,000,000 keys: BENCHMARKS-large.md)",
                  f"{per_key:.0f} B/key above the empty server ({startup['k1m'][1] * 1024 / 1_000_000:.0f} B/key in all)", per_key <= 120))
profiled = next((r for r in rows if r.get("row") == "callgrind"), None)
if profiled:
    table.append(("8", "Verify under callgrind: release server (bench-server), 10,000 keys, 16 in flight, 4 conn",
                  "event loop thread", f"{f(num(profiled['instructions_per_call']))} instructions / call", "", "", "",
                  f"{profiled['allocations_per_call']} allocations / call; all threads "
                  f"{f(num(profiled['all_threads_instructions_per_call']))} instructions / call (the usage flush: per key, not per call)"))
    allocations = num(profiled["allocations_per_call"])
    goals.append(("Allocations per Verify call ≤ 5 (issue 14, goal 3; row 8)", f"{allocations:.1f}", allocations <= 5))
for g, measured, ok in goals:
    table.append(("goal", g, "", measured, "", "", "", verdict(ok)))

header = "| # | benchmark | configuration | result (min / **median** / max) | p50 µs | p99 µs | p99.9 µs | notes |"
lines = [header, "|---|---|---|---|---:|---:|---:|---|"]
lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in table]
markdown = "\n".join(lines)
print(markdown)

pg_seed_text = ""
if pg_seed:
    pg_seed_text = "; of that, PostgreSQL (bench-seed rows loaded by COPY, indexes built after): " + ", ".join(
        f"{int(r['keys']):,} keys in {f(num(r['ms']) / 1000, 1)} s" for r in pg_seed.values())
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
doc = f"""# Benchmarks

Written by `make bench` — do not edit by hand; run it again.

- **Date:** {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
- **Command:** `{a.command}`
- **Machine:** {a.cores} cores, {a.cpu}; {platform.system()} {platform.release()}; {swift[0] if swift else 'swift ?'}
- **Pinning:** {a.pinning}; every server runs one event loop thread
- **Time:** build {a.build_seconds} s (seeding the stores took {a.seed_seconds} s beside it, at low priority{pg_seed_text}), whole run {a.total_seconds} s

{markdown}

How to read it: rows 1–4 are closed-loop load (each call is sent as soon as one returns),
after a warm-up, with the in-flight calls spread evenly over the connections; throughput is
min / median / max over the runs, latencies are the medians over the runs, measured by the
client from send to receipt. "server CPU" is the server's user+system CPU time during the
measured interval divided by the calls answered. The peers (3, 4) verify against a dictionary
keyed by the secret; apikeysd (1) also parses the secret, checks its CRC and hashes it and the
service credential with SHA-256. Row 4 pipelines HTTP/1.1 requests on each connection.
Rows 5–6 run in process. Row 1b is row 1 with the access log on (issue 11). Rows 7 are
PostgreSQL (issue 10): a throwaway PostgreSQL 15 cluster with fsync on, on the same machine,
vacuumed, analyzed and checkpointed after seeding, its processes pinned to the client core (the
server core is apikeysd's alone, as with SQLite). Row 8 counts instructions with valgrind's
callgrind (scripts/profile-verify.sh): repeatable whatever else the machine does, so it is
the row to compare between runs. Method and caveats: Benchmarks/README.md.
"""
if a.profile:
    top = [l.rstrip() for l in open(a.profile) if l.startswith(("  ", "top ten", "allocations per"))]
    if top:
        doc += "\nRow 8, the profile of the event loop:\n\n```\n" + "\n".join(top) + "\n```\n"
open(a.out, "w").write(doc)
