#!/usr/bin/env python3
"""asyncpg (on uvloop) side of pgtusk-bench.

Started by the Rust harness with the DSN as its only argument. Reads one JSON command per line
on stdin ({"w": workload, "ops": n, "seed": s}), runs it on one connection, and answers one JSON
line: {"secs": wall, "cpu": process CPU seconds, "checksum": n} or {"error": text}. The SQL and
the checksums are the same as the Rust drivers' (bench/src/workloads.rs).
"""
import asyncio
import json
import sys
import time

import asyncpg
import uvloop

POINT = "SELECT v, t FROM bench_point WHERE id = $1"
TINY = "SELECT 1 + 1"
SERIES = "SELECT g FROM generate_series(1, 1000) g"
WIDE = "SELECT i, t, ts, n FROM bench_wide"
ARRAYS = "SELECT a FROM bench_arr"
BYTEA = "SELECT b FROM bench_bytea"
INSERT = "INSERT INTO bench_ins (id, v) VALUES ($1, $2)"
TYPED = "SELECT i, t, ts, n FROM bench_wide WHERE i <= 10000"


def point_id(seed, k):
    return (seed * 7919 + k * 104729) % 1_000_000 + 1


class Wide:
    __slots__ = ("i", "t", "ts", "n")

    def __init__(self, i, t, ts, n):
        self.i = i
        self.t = t
        self.ts = ts
        self.n = n


def wide_sum(i, t, ts, n):
    return i + len(t) + int(ts.timestamp()) + int(n * 100)


async def run(conn, w, ops, seed, rows_to_insert):
    s = 0
    if w == "point":
        for k in range(ops):
            r = await conn.fetchrow(POINT, point_id(seed, k))
            s += r[0] + len(r[1])
    elif w == "tiny":
        for _ in range(ops):
            s += await conn.fetchval(TINY)
    elif w == "series":
        for _ in range(ops):
            for r in await conn.fetch(SERIES):
                s += r[0]
    elif w == "wide":
        for _ in range(ops):
            for r in await conn.fetch(WIDE):
                s += wide_sum(r[0], r[1], r[2], r[3])
    elif w == "arrays":
        for _ in range(ops):
            for r in await conn.fetch(ARRAYS):
                a = r[0]
                s += sum(a) + len(a)
    elif w == "bytea":
        for _ in range(ops):
            for r in await conn.fetch(BYTEA):
                b = r[0]
                s += len(b) + b[0] + b[-1]
    elif w == "insert":
        for _ in range(ops):
            # executemany pipelines the Bind/Execute pairs and runs atomically.
            await conn.executemany(INSERT, rows_to_insert)
            s += len(rows_to_insert)
    elif w == "typed":
        for _ in range(ops):
            for x in [Wide(*r) for r in await conn.fetch(TYPED)]:
                s += wide_sum(x.i, x.t, x.ts, x.n)
    else:
        raise ValueError(f"unknown workload {w}")
    return s


async def main(dsn):
    conn = await asyncpg.connect(dsn)
    rows_to_insert = [(i, f"v{i}") for i in range(1, 1001)]
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = json.loads(line)
        try:
            c0 = time.process_time()
            t0 = time.perf_counter()
            s = await run(conn, cmd["w"], cmd["ops"], cmd["seed"], rows_to_insert)
            t1 = time.perf_counter()
            c1 = time.process_time()
            answer = {"secs": t1 - t0, "cpu": c1 - c0, "checksum": s}
        except Exception as e:  # reported to the harness, which fails the run
            answer = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    await conn.close()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(sys.argv[1]))
