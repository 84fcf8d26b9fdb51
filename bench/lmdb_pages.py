#!/usr/bin/env python3
"""bench/lmdb_pages.py - how many pages of each table one write rewrote.

Usage: bench/lmdb_pages.py BEFORE/data.mdb AFTER/data.mdb

Copy a replica's data.mdb before a write (a W2 apply, say), copy it again
after, and this prints, per table, its pages and how many of them are new.
LMDB is copy-on-write: every page a transaction touches is written to a new
page number, so "reachable after and not before" is exactly what the commit
wrote (and fsynced), table by table. This is how the page counts of
docs/DESIGN-NOTES.md ("W2: applying 1,000 received edits") were measured;
the per-page cost, not the CPU, is what such a commit pays.

Reads LMDB 0.9's file format (64-bit, 4 KiB pages) directly: the tables are
named databases of the main one. Sealed values are opaque bytes to it.
"""
import struct
import sys

PAGE = 4096
P_BRANCH, P_LEAF, P_OVERFLOW, P_LEAF2 = 0x01, 0x02, 0x04, 0x20
F_BIGDATA, F_SUBDATA = 0x01, 0x02
NO_ROOT = 0xFFFFFFFFFFFFFFFF
DB = struct.Struct("<IHHQQQQQ")  # MDB_db: pad flags depth branch leaf overflow entries root


def newest_meta(data):
    """(txnid, main database record) of the newer of the two meta pages."""
    metas = []
    for i in (0, 1):
        o = i * PAGE + 16 + 24  # page header, then magic version address mapsize
        main = DB.unpack_from(data, o + DB.size)  # mm_dbs[1] is the main database
        txnid = struct.unpack_from("<Q", data, o + 2 * DB.size + 8)[0]
        metas.append((txnid, main))
    return max(metas)


def nodes(data, pg):
    """(flags, node offset) of each node of page pg, and the page flags."""
    o = pg * PAGE
    flags, lower = struct.unpack_from("<HH", data, o + 10)
    ptrs = [struct.unpack_from("<H", data, o + 16 + 2 * i)[0] for i in range((lower - 16) // 2)]
    return flags, [o + p for p in ptrs]


def walk(data, root):
    """Every page number reachable from root (branches, leaves, overflow)."""
    seen = set()
    stack = [] if root == NO_ROOT else [root]
    while stack:
        pg = stack.pop()
        seen.add(pg)
        flags, offs = nodes(data, pg)
        if flags & P_OVERFLOW:
            count = struct.unpack_from("<I", data, pg * PAGE + 12)[0]
            seen.update(range(pg + 1, pg + count))
            continue
        if flags & P_LEAF2:
            continue
        for no in offs:
            lo, hi, nflags, ksize = struct.unpack_from("<HHHH", data, no)
            if flags & P_BRANCH:
                stack.append(lo | hi << 16 | nflags << 32)
            elif nflags & F_BIGDATA:
                stack.append(struct.unpack_from("<Q", data, no + 8 + ksize)[0])
    return seen


def tables(path):
    """{table name: set of its page numbers}, "(main)" for the main database."""
    with open(path, "rb") as f:
        data = f.read()
    _, main = newest_meta(data)
    out = {"(main)": walk(data, main[7])}
    for pg in out["(main)"]:
        flags, offs = nodes(data, pg)
        if not flags & P_LEAF:
            continue
        for no in offs:
            _, _, nflags, ksize = struct.unpack_from("<HHHH", data, no)
            if nflags & F_SUBDATA:
                name = data[no + 8 : no + 8 + ksize].decode()
                out[name] = walk(data, DB.unpack_from(data, no + 8 + ksize)[7])
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: lmdb_pages.py BEFORE/data.mdb AFTER/data.mdb")
    before, after = tables(sys.argv[1]), tables(sys.argv[2])
    total = 0
    print("%-10s %8s %10s" % ("table", "pages", "rewritten"))
    for name in sorted(after):
        new = len(after[name] - before.get(name, set()))
        total += new
        if after[name]:
            print("%-10s %8d %10d" % (name, len(after[name]), new))
    print("%-10s %8s %10d" % ("total", "", total))


if __name__ == "__main__":
    main()
