#!/usr/bin/env python3
"""asyncpg (on uvloop) side of pgtusk-bench.

Started by the Rust harness with the DSN as its only argument. Reads one JSON command per line
on stdin ({"w": workload, "ops": n, "seed": s}), runs it on one connection (workload 9, "pool":
on a pool of 8 connections shared by 64 tasks), and answers one JSON line: {"secs": wall, "cpu":
process CPU seconds, "checksum": n} or {"error": text}. The SQL and the checksums are the same as
the Rust drivers' (bench/src/workloads.rs, bench/src/pool.rs).
"""
import asyncio
import datetime
import decimal
import json
import resource
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
INLIST = "SELECT id, v FROM bench_point WHERE id = ANY($1::int4[])"
COPY_OUT = "SELECT i, t, ts, n FROM bench_copy_src"
COPY_ROWS = 1_000_000
MASK = (1 << 64) - 1
POOL_SIZE = 8
TASKS = 64


def point_id(seed, k):
    return (seed * 7919 + k * 104729) % 1_000_000 + 1


def inlist_lists(seed, ops):
    """The same 64-bit LCG as inlist_lists in workloads.rs: lengths 1..=1000, ids 1..=1M."""
    state = (seed * 2654435761 + 1) & MASK

    def nxt():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & MASK
        return state >> 33

    lists = []
    for _ in range(ops):
        n = nxt() % 1000 + 1
        lists.append([nxt() % 1_000_000 + 1 for _ in range(n)])
    return lists


def inlist_ops(seed, ops):
    """Each list with the rows and id sum the answer must have (ids are unique keys)."""
    out = []
    for ids in inlist_lists(seed, ops):
        distinct = set(ids)
        out.append((ids, len(distinct), sum(distinct)))
    return out


class Wide:
    __slots__ = ("i", "t", "ts", "n")

    def __init__(self, i, t, ts, n):
        self.i = i
        self.t = t
        self.ts = ts
        self.n = n


def copy_rows():
    """The rows of bench_copy_src, as bench/src/copy.rs builds them."""
    base = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    second = datetime.timedelta(seconds=1)
    return [
        (g, f"row {g}", base + g * second, decimal.Decimal(g * 7 % 100000).scaleb(-2))
        for g in range(1, COPY_ROWS + 1)
    ]


def wide_sum(i, t, ts, n):
    return i + len(t) + int(ts.timestamp()) + int(n * 100)


async def run_pool(pool, ops, seed):
    """Workload 9: task t runs the ops t, t + 64, ... of the phase, each through pool.fetchrow
    (acquire, fetchrow, release), as asyncpg's users write it."""

    async def task(t):
        s = 0
        for k in range(t, ops, TASKS):
            r = await pool.fetchrow(POINT, point_id(seed, k))
            s += r[0] + len(r[1])
        return s

    return sum(await asyncio.gather(*(task(t) for t in range(TASKS))))


async def run(conn, w, ops, seed, rows_to_insert, inputs):
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
    elif w == "copy-in":
        for _ in range(ops):
            result = await conn.copy_records_to_table(
                "bench_copy_dst", records=inputs, columns=["i", "t", "ts", "n"]
            )
            s += int(result.split()[-1])
    elif w == "copy-out":
        received = 0

        async def count(data):
            nonlocal received
            received += len(data)

        for _ in range(ops):
            await conn.copy_from_query(COPY_OUT, output=count, format="binary")
        s = received
    elif w == "inlist":
        for ids, want_rows, want_sum in inputs:
            rows = await conn.fetch(INLIST, ids)
            id_sum = 0
            v_sum = 0
            for r in rows:
                id_sum += r[0]
                v_sum += r[1]
            if len(rows) != want_rows or id_sum != want_sum or v_sum != 3 * id_sum:
                raise ValueError(
                    f"IN list of {len(ids)} ids: {len(rows)} rows, id sum {id_sum}, "
                    f"v sum {v_sum}; expected {want_rows} rows, id sum {want_sum}"
                )
            s += id_sum + v_sum
    else:
        raise ValueError(f"unknown workload {w}")
    return s


async def main(dsn):
    conn = await asyncpg.connect(dsn)
    pool = None
    rows_to_insert = [(i, f"v{i}") for i in range(1, 1001)]
    rows_to_copy = None
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = json.loads(line)
        try:
            # Inputs are made before the timer starts, as on the Rust side.
            inputs = inlist_ops(cmd["seed"], cmd["ops"]) if cmd["w"] == "inlist" else None
            if cmd["w"] == "copy-in":
                if rows_to_copy is None:
                    rows_to_copy = copy_rows()
                inputs = rows_to_copy
            if cmd["w"] == "pool" and pool is None:
                pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
            c0 = time.process_time()
            u0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime
            t0 = time.perf_counter()
            if cmd["w"] == "pool":
                s = await run_pool(pool, cmd["ops"], cmd["seed"])
            else:
                s = await run(conn, cmd["w"], cmd["ops"], cmd["seed"], rows_to_insert, inputs)
            t1 = time.perf_counter()
            u1 = resource.getrusage(resource.RUSAGE_SELF).ru_utime
            c1 = time.process_time()
            answer = {"secs": t1 - t0, "cpu": c1 - c0, "user_cpu": u1 - u0, "checksum": s}
        except Exception as e:  # reported to the harness, which fails the run
            answer = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    if pool is not None:
        await pool.close()
    await conn.close()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(sys.argv[1]))
