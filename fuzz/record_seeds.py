#!/usr/bin/env python3
"""Records real PostgreSQL traffic as the fuzz targets' seeds (fuzz/seeds/<target>/).

Starts a throwaway server (initdb as the `postgres` user when run as root, as TempCluster
does), connects over TCP with SCRAM-SHA-256 and speaks the protocol the way pgtusk does
(extended queries with binary results, simple queries, COPY), and keeps what the server
sent:

- backend:     server bytes of whole exchanges, behind the target's header
               ([limit] [script length] [script]: the client actions that make them expected)
- decode:      each binary value the server sent, behind the decode table's case byte
- copy_binary: the data of COPY ... TO STDOUT (FORMAT binary)
- scram:       the server-first and server-final messages of a real exchange

The config target's seeds (DSNs, .pgpass lines) are written by hand, below.

Usage: python3 fuzz/record_seeds.py   (rewrites fuzz/seeds/; needs PostgreSQL's server binaries)
"""

import base64
import glob
import hashlib
import hmac
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
import time

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
PASSWORD = "tusk-seed"  # not the scram target's password: a replayed final must not verify
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"  # the scram target's client nonce

# Decode table (fuzz_targets/decode.rs): case byte -> SQL that yields a value of that type.
DECODE = {
    0: "true", 1: "(-12)::int2", 2: "2147483647::int4", 3: "(-9007199254740993)::int8",
    4: "'pg_class'::regclass::oid", 5: "'-1.5e-3'::float4", 6: "'NaN'::float8",
    7: "'x'::\"char\"", 8: "'12345678901'::xid8", 9: "'walrus ñ'::text",
    10: "'varchar'::varchar", 11: "'\\x00ff10'::bytea", 12: "'-12345.678900'::numeric",
    13: "'79228162514264337593543950335'::numeric", 14: "'{\"a\": [1, 2.5, null]}'::jsonb",
    15: "'{\"k\": {\"n\": -0.0, \"s\": \"\\u00e9\"}}'::jsonb", 16: "'[1, \"two\", {}]'::json",
    17: "'\"raw\"'::json", 18: "'[true, false]'::jsonb",
    19: "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", 20: "'2024-02-29'::date",
    21: "'23:59:59.999999'::time", 22: "'12:34:56+05:30'::timetz",
    23: "'1999-12-31 23:59:59.5'::timestamp", 24: "'2000-01-01 00:00:00+00'::timestamptz",
    25: "'1970-01-01 00:00:01+00'::timestamptz", 26: "'infinity'::date",
    27: "'-infinity'::timestamptz", 28: "'1 year 2 mons -3 days 04:05:06.789'::interval",
    29: "'192.168.1.5/24'::inet", 30: "'2001:db8::/32'::cidr", 31: "'::1'::inet",
    32: "'08:00:2b:01:02:03'::macaddr", 33: "'08:00:2b:01:02:03:04:05'::macaddr8",
    34: "B'10101'::bit(5)", 35: "B'1100110011'::varbit", 36: "'-12.34'::money",
    37: "'(1.5,-2)'::point", 38: "'[(0,0),(1,1)]'::lseg", 39: "'((3,4),(1,2))'::box",
    40: "'[(0,0),(1,1),(2,0)]'::path", 41: "'((0,0),(1,1),(2,0))'::polygon",
    42: "'<(1,2),3>'::circle", 43: "'{1,-1,0}'::line", 44: "'16/B374D848'::pg_lsn",
    45: "ARRAY[1, NULL, 3]::int4[]", 46: "ARRAY['a', NULL, 'c']::text[]",
    47: "'[0:1][1:2]={{1,2},{3,4}}'::int8[]", 48: "ARRAY[1.5, NULL, 'NaN']::numeric[]",
    49: "int4range(1, 10)", 50: "'(,5]'::int8range", 51: "numrange(1.5, 2.25, '[]')",
    52: "'empty'::daterange", 53: "tstzrange('2020-01-01', NULL)",
    54: "'{[1,3), [5,9)}'::int4multirange", 55: "'{[1.5,2.5]}'::nummultirange",
    56: "ARRAY[int4range(1,2), 'empty']", 57: "ROW(7, 'hi', ARRAY[1])",
    58: "ARRAY[ROW(1, 'a'::text), ROW(2, NULL::text)]", 59: "ROW(1, 'one')::pair",
    60: "ARRAY[ROW(1, 'one')::pair, ROW(2, NULL)::pair]",
    61: "'a=>1, b=>NULL, \"c d\"=>\"e\"'::hstore", 62: "5::positive", 63: "'ok'::mood",
}

SETUP = """
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE pair AS (a int4, b text);
CREATE DOMAIN positive AS int4 CHECK (VALUE > 0);
CREATE TYPE mood AS ENUM ('sad', 'ok');
"""


def message(tag, body):
    return tag + struct.pack("!i", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


class Client:
    """A minimal frontend that keeps every byte the server sent."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.received = bytearray()
        self.scram = None

    def send(self, data):
        self.sock.sendall(data)

    def read_message(self):
        header = self._read(5)
        tag, length = header[:1], struct.unpack("!i", header[1:])[0]
        body = self._read(length - 4)
        self.received += header + body
        return tag, body

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError("server closed the connection")
            out += chunk
        return out

    def until_ready(self):
        messages = []
        while True:
            tag, body = self.read_message()
            messages.append((tag, body))
            if tag == b"E" and b"FATAL" in body:
                raise RuntimeError(body)
            if tag == b"Z":
                return messages

    def take(self):
        out = bytes(self.received)
        self.received.clear()
        return out

    def startup(self):
        params = cstr("user") + cstr("postgres") + cstr("database") + cstr("postgres")
        params += cstr("client_encoding") + cstr("UTF8") + b"\0"
        self.send(struct.pack("!ii", len(params) + 8, 196608) + params)
        tag, body = self.read_message()
        assert tag == b"R" and struct.unpack("!i", body[:4])[0] == 10, (tag, body)
        bare = f"n=,r={CLIENT_NONCE}"
        first = ("n,," + bare).encode()
        self.send(message(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
        tag, body = self.read_message()
        server_first = body[4:]
        attrs = dict(part.split("=", 1) for part in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={attrs['r']}"
        auth = f"{bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        final = f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
        self.send(message(b"p", final))
        tag, body = self.read_message()
        assert tag == b"R" and struct.unpack("!i", body[:4])[0] == 12, (tag, body)
        self.scram = (server_first, body[4:])
        self.until_ready()

    def simple(self, sql):
        self.send(message(b"Q", cstr(sql)))
        return self.until_ready()

    def extended(self, sql, binary=True):
        """Parse/Bind/Describe/Execute/Sync with every result column in binary, as pgtusk does."""
        formats = struct.pack("!hh", 1, 1) if binary else struct.pack("!h", 0)
        self.send(
            message(b"P", cstr("") + cstr(sql) + struct.pack("!h", 0))
            + message(b"B", cstr("") + cstr("") + struct.pack("!hh", 0, 0) + formats)
            + message(b"D", b"P" + cstr(""))
            + message(b"E", cstr("") + struct.pack("!i", 0))
            + message(b"S", b"")
        )
        return self.until_ready()


def data_row_fields(body):
    count = struct.unpack("!h", body[:2])[0]
    pos, fields = 2, []
    for _ in range(count):
        n = struct.unpack("!i", body[pos:pos + 4])[0]
        pos += 4
        fields.append(None if n < 0 else body[pos:pos + n])
        pos += max(n, 0)
    return fields


def write(target, name, data):
    path = os.path.join(SEEDS, target)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


def backend_seed(name, script, server_bytes, limit=1):
    """The backend target's input: limit index 1 (64 KiB), the client actions, the bytes."""
    write("backend", name, bytes([limit, len(script)]) + bytes(script) + server_bytes)


def start_server(root):
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    pwfile = os.path.join(root, "pw")
    with open(pwfile, "w") as f:
        f.write(PASSWORD)
    if as_root:
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    data = os.path.join(root, "data")
    subprocess.run(prefix + [f"{bindir}/initdb", "-D", data, "-U", "postgres",
                             "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                             "--locale=C"], check=True, stdout=subprocess.DEVNULL)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(prefix + [f"{bindir}/pg_ctl", "-D", data, "-w", "-l",
                             os.path.join(root, "log"), "-o",
                             f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    return prefix + [f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], port


def record(port):
    c = Client(port)
    c.startup()
    startup = c.take()
    server_first, server_final = c.scram
    backend_seed("startup", [], startup)

    # One request per seed; the script byte before the first message queues it behind the
    # session's startup request (see `act` in fuzz_targets/backend.rs), whose ReadyForQuery
    # these bytes lack: the fuzzer finds that in the startup seed.
    def exchange(name, script, run):
        run()
        backend_seed(name, script, c.take())

    exchange("simple_select", [0], lambda: c.simple("SELECT 1 AS one, 'two' AS two"))
    exchange("simple_error", [0], lambda: c.simple("SELECT 1/0"))
    exchange("simple_notice", [0], lambda: c.simple(
        "DO $$BEGIN RAISE NOTICE 'careful' USING DETAIL = 'a detail', HINT = 'a hint'; END$$"))
    exchange("simple_many", [0], lambda: c.simple(
        "BEGIN; SET LOCAL work_mem = '8MB'; SELECT generate_series(1, 3); COMMIT"))
    exchange("empty_query", [0], lambda: c.simple(""))
    exchange("listen_notify", [0], lambda: c.simple(
        "LISTEN ch; NOTIFY ch, 'payload'; UNLISTEN ch"))
    exchange("extended_rows", [2], lambda: c.extended(
        "SELECT g, g::text, ARRAY[g] FROM generate_series(1, 4) g"))
    exchange("extended_error", [2], lambda: c.extended("SELECT * FROM no_such_table"))
    exchange("copy_out_text", [0], lambda: c.simple(
        "COPY (SELECT g, 'x' || g FROM generate_series(1, 3) g) TO STDOUT"))

    # COPY FROM STDIN through a query method: the driver refuses it with CopyFail.
    def copy_in():
        c.send(message(b"Q", cstr("COPY seed_copy FROM STDIN")))
        c.read_message()
        c.send(message(b"f", cstr("COPY FROM STDIN needs the COPY API, not a query method")))
        c.until_ready()
    c.simple("CREATE TEMP TABLE seed_copy (a int4)")
    c.take()
    exchange("copy_in_refused", [0], copy_in)

    c.simple(SETUP)
    c.take()
    for case, sql in sorted(DECODE.items()):
        messages = c.extended(f"SELECT {sql}")
        c.take()
        rows = [b for t, b in messages if t == b"D"]
        assert rows, (sql, messages)
        value = data_row_fields(rows[0])[0]
        write("decode", f"{case:02}", bytes([case]) + value)

    for columns in (1, 2, 3):
        cols = ["g::int4", "'text ' || g", "decode(repeat('ab', g), 'hex')"][:columns]
        messages = c.simple(
            f"COPY (SELECT {', '.join(cols)} FROM generate_series(1, 3) g) TO STDOUT (FORMAT binary)")
        c.take()
        data = b"".join(b for t, b in messages if t == b"d")
        write("copy_binary", f"columns_{columns}", bytes([columns, 15]) + data)
        write("copy_binary", f"columns_{columns}_split", bytes([columns, 2]) + data)

    write("scram", "server_messages", bytes([0, 0]) + server_first + b"\0" + server_final)
    write("scram", "server_messages_plus", bytes([0, 2]) + server_first + b"\0" + server_final)
    c.send(message(b"X", b""))


HAND_WRITTEN = {
    "config": {
        "url": b"postgres://tusk:s%40cret@db.example.com:5433/app?sslmode=require&application_name=seed",
        "url_multi": b"postgresql://u@h1:5432,h2,[::1]:6543/db?target_session_attrs=read-write&load_balance_hosts=random",
        "url_socket": b"postgres://%2Fvar%2Frun%2Fpostgresql/db?connect_timeout=10",
        "key_value": b"host=localhost port=5432 user=postgres password='it''s \\' quoted' dbname=x",
        "key_value_opts": b"host=/tmp,10.0.0.1 hostaddr=,127.0.0.1 options='-c search_path=a' "
                          b"statement_cache_size=0 max_message_size=65536 command_timeout=2.5",
        "with_env": b"dbname=app\n5433\nlocalhost:5432:*:postgres:pw",
        "pgpass": b"host=h\n\n# comment\n*:*:*:*:secret\nh\\:x:5432:d:u:p\\:w\\\\\n",
        "pgpass_fields": b"db.example.com\tapp\ttusk\tp:a\\ss",
    },
    "scram": {
        # Honest mode: printable password, salt.
        "honest": b"\x01\x05pencil\0QSXCR+Q6sek8bf92",
        "honest_plus": b"\x01\x02correct horse\0salt",
        "rfc7677_shape": b"\x00\x00r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                         b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096\0v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        "server_error": b"\x00\x00r=rOprNGfwEbeRWgbNEkqOxyz,s=c2FsdA==,i=1\0e=invalid-proof",
    },
}


def main():
    if os.path.isdir(SEEDS):
        shutil.rmtree(SEEDS)
    for target, seeds in HAND_WRITTEN.items():
        for name, data in seeds.items():
            write(target, name, data)
    root = tempfile.mkdtemp(prefix="pgtusk-seeds-")
    stop = None
    try:
        stop, port = start_server(root)
        time.sleep(0.2)
        record(port)
    finally:
        if stop:
            subprocess.run(stop, check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)
    total = 0
    for target in sorted(os.listdir(SEEDS)):
        files = os.listdir(os.path.join(SEEDS, target))
        size = sum(os.path.getsize(os.path.join(SEEDS, target, f)) for f in files)
        total += size
        print(f"{target}: {len(files)} seeds, {size} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
