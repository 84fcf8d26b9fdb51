#!/usr/bin/env python3
"""examples/python/customers.py - add and read customers from Python,
through libcarnet's C ABI with cffi (Debian: python3-cffi), no compiler.

    python3 customers.py [REPLICA_DIR]

Opens (or creates) a replica, adds three customers, shows that a bad value
is refused with the library's own message, lists and searches them, then
closes and reopens the replica to read one back. The library is found as
libcarnet.so.0 on the system's search path (LD_LIBRARY_PATH for a private
prefix), or at $CARNET_LIB.

cffi's ABI mode reads declarations, not headers: the few used here are
copied from include/carnet/*.h. They must match the headers of the library
at hand; the SONAME (libcarnet.so.0) guarantees they do within a major
version.
"""
import os
import sys
import tempfile

from cffi import FFI

ffi = FFI()
ffi.cdef("""
typedef struct carnet_id { uint8_t b[16]; } carnet_id;
typedef struct carnet_replica carnet_replica;
typedef struct carnet_patch carnet_patch;
typedef struct carnet_record carnet_record;
typedef struct carnet_filter {
  const char *text;
  const char *tag;
  const char *role;
  const char *sales_rep;
  const carnet_id *customer;
  bool include_deleted;
} carnet_filter;

enum { CARNET_KIND_CUSTOMER = 1 };
enum { CARNET_F_TYPE = 1, CARNET_F_NAME = 3, CARNET_F_COMPANY = 4, CARNET_F_REFCODE = 5,
       CARNET_F_CITY = 10, CARNET_F_EMAILS = 13, CARNET_F_TAGS = 15 };
enum { CARNET_EEXIST = -5, CARNET_EINVAL = -1 };

const char *carnet_version(int *major, int *minor, int *patch);
const char *carnet_error_name(int err);
int carnet_replica_init(const char *dir, const void *env, carnet_replica **out,
                        char *errbuf, size_t errbuf_len);
int carnet_replica_open(const char *dir, const void *env, carnet_replica **out,
                        char *errbuf, size_t errbuf_len);
void carnet_replica_close(carnet_replica *r);
const char *carnet_replica_errmsg(const carnet_replica *r);
carnet_patch *carnet_patch_new(int kind);
void carnet_patch_free(carnet_patch *p);
int carnet_patch_set(carnet_patch *p, int field, const char *value);
int carnet_patch_phone(carnet_patch *p, const char *type, const char *number);
int carnet_record_create_commit(carnet_replica *r, const carnet_patch *p, carnet_id *out_id);
int carnet_record_get(carnet_replica *r, const carnet_id *id, carnet_record **out);
void carnet_record_free(carnet_record *rec);
const carnet_id *carnet_record_id(const carnet_record *rec);
const char *carnet_record_str(const carnet_record *rec, int field);
size_t carnet_record_elems(const carnet_record *rec, int field, const char *const **out);
typedef int (*carnet_record_cb)(const carnet_record *rec, void *data);
int carnet_record_list(carnet_replica *r, int kind, const carnet_filter *filter,
                       carnet_record_cb cb, void *data);
void carnet_id_format(const carnet_id *id, char out[33]);
""")

lib = ffi.dlopen(os.environ.get("CARNET_LIB", "libcarnet.so.0"))


class CarnetError(Exception):
    pass


class Replica:
    """A replica directory, opened once (an LMDB rule) and closed on exit."""

    def __init__(self, path):
        out = ffi.new("carnet_replica **")
        err = ffi.new("char[256]")
        call = lib.carnet_replica_open if os.path.exists(os.path.join(path, "data.mdb")) \
            else lib.carnet_replica_init
        rc = call(path.encode(), ffi.NULL, out, err, len(err))
        if rc:
            raise CarnetError("%s: %s" % (ffi.string(lib.carnet_error_name(rc)).decode(),
                                          ffi.string(err).decode()))
        self.r = out[0]

    def close(self):
        if self.r:
            lib.carnet_replica_close(self.r)
            self.r = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def check(self, rc):
        if rc:
            raise CarnetError("%s: %s" % (ffi.string(lib.carnet_error_name(rc)).decode(),
                                          ffi.string(lib.carnet_replica_errmsg(self.r)).decode()))

    def add_customer(self, name, city=None, email=None, mobile=None, tags=()):
        p = ffi.gc(lib.carnet_patch_new(lib.CARNET_KIND_CUSTOMER), lib.carnet_patch_free)
        self.check(lib.carnet_patch_set(p, lib.CARNET_F_NAME, name.encode()))
        if city:
            self.check(lib.carnet_patch_set(p, lib.CARNET_F_CITY, city.encode()))
        if email:
            self.check(lib.carnet_patch_set(p, lib.CARNET_F_EMAILS, email.encode()))
        if mobile:
            self.check(lib.carnet_patch_phone(p, b"mobile", mobile.encode()))
        for t in tags:
            self.check(lib.carnet_patch_set(p, lib.CARNET_F_TAGS, t.encode()))
        cid = ffi.new("carnet_id *")
        self.check(lib.carnet_record_create_commit(self.r, p, cid))
        return bytes(cid.b)

    @staticmethod
    def _fields(rec):
        def s(f):
            v = lib.carnet_record_str(rec, f)
            return ffi.string(v).decode() if v != ffi.NULL else None
        arr = ffi.new("const char *const **")
        n = lib.carnet_record_elems(rec, lib.CARNET_F_EMAILS, arr)
        hexid = ffi.new("char[33]")
        lib.carnet_id_format(lib.carnet_record_id(rec), hexid)
        return {"id": ffi.string(hexid).decode(), "ref": s(lib.CARNET_F_REFCODE),
                "name": s(lib.CARNET_F_NAME), "city": s(lib.CARNET_F_CITY),
                "emails": [ffi.string(arr[0][i]).decode() for i in range(n)]}

    def customers(self, search=None):
        found = []

        @ffi.callback("int(const carnet_record *, void *)")
        def each(rec, data):
            found.append(self._fields(rec))  # the record is freed after the callback
            return 0

        flt = ffi.new("carnet_filter *")
        keep = ffi.new("char[]", search.encode()) if search else ffi.NULL
        flt.text = keep
        self.check(lib.carnet_record_list(self.r, lib.CARNET_KIND_CUSTOMER, flt, each, ffi.NULL))
        return found

    def get(self, cid):
        idp = ffi.new("carnet_id *")
        idp.b = cid
        rec = ffi.new("carnet_record **")
        self.check(lib.carnet_record_get(self.r, idp, rec))
        try:
            return self._fields(rec[0])
        finally:
            lib.carnet_record_free(rec[0])


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="carnet-py.")
    print("libcarnet %s, replica %s" % (ffi.string(lib.carnet_version(ffi.NULL, ffi.NULL, ffi.NULL)).decode(), path))
    with Replica(path) as r:
        a = r.add_customer("Hélène Müller", city="Lyon", email="helene@muller.fr",
                           mobile="06 12 34 56 78", tags=("vip",))
        r.add_customer("Boulangerie Dupont", city="Saint-Étienne", email="contact@dupont.fr")
        r.add_customer("Jean Martin", city="Lyon", mobile="+33 7 82 35 61 55")
        try:
            r.add_customer("Paul Bad", email="paul@")
        except CarnetError as e:
            print("refused as expected: %s" % e)
        else:
            raise SystemExit("a bad e-mail was accepted")
        everyone = r.customers()
        print("%d customers:" % len(everyone))
        for c in everyone:
            print("  %s  %-20s %s %s" % (c["ref"], c["name"], c["city"], ", ".join(c["emails"])))
        lyon = r.customers(search="lyon")
        print("search 'lyon': %s" % ", ".join(sorted(c["name"] for c in lyon)))
        if sorted(c["name"] for c in lyon) != ["Hélène Müller", "Jean Martin"]:
            raise SystemExit("search 'lyon' found %r" % [c["name"] for c in lyon])
    with Replica(path) as r:  # reopened: what was committed is there
        back = r.get(a)
        print("read back after reopening: %s (%s), %s" % (back["name"], back["ref"], back["emails"][0]))
        if back["name"] != "Hélène Müller" or back["emails"] != ["helene@muller.fr"]:
            raise SystemExit("read back %r" % back)
    print("ok")


if __name__ == "__main__":
    main()
