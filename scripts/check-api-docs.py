#!/usr/bin/env python3
"""scripts/check-api-docs.py - every public call that returns an int says
which errors it returns.

For each `CARNET_API int carnet_...(` declaration in include/carnet/*.h, the
comment that documents it (the comment block just above it, or above the
group of declarations it belongs to, with no blank line between) must hold
an "Errors:" list: CARNET_E* codes, "as carnet_other" (the same list as
another call), or "none" for an int that is never an error code (a count,
a level). Every CARNET_E* name it cites must exist in carnet/error.h.

Usage: check-api-docs.py [INCLUDE_DIR]   (default: include/carnet next to
this script). Prints each offender and exits 1 when there is any.
       check-api-docs.py --self-test [INCLUDE_DIR]
Copies the headers, deletes the "Errors:" list of one call, and checks that
the check fails and names that call (exit 0 when it does).
"""
import os
import re
import sys


def comment_above(lines, i):
    """The text of the comment block that documents line i: walk up over
    other declarations of the same group (no blank line), then collect the
    comment block."""
    j = i - 1
    # Skip the preceding declarations of a group (and their continuation lines).
    while j >= 0 and lines[j].strip() and not lines[j].rstrip().endswith('*/'):
        if lines[j].lstrip().startswith(('/*', '*')):
            break
        j -= 1
    if j < 0 or not lines[j].rstrip().endswith('*/'):
        return ''
    end = j
    while j >= 0 and '/*' not in lines[j]:
        j -= 1
    return '\n'.join(lines[j:end + 1])


def self_test(inc):
    import io
    import shutil
    import tempfile
    from contextlib import redirect_stdout
    tmp = tempfile.mkdtemp(prefix='check-api-docs.')
    try:
        copy = os.path.join(tmp, 'carnet')
        shutil.copytree(inc, copy)
        path = os.path.join(copy, 'record.h')
        with open(path) as f:
            text = f.read()
        # The documented "Errors:" of carnet_record_get, made a plain remark.
        anchor = 'CARNET_API int carnet_record_get('
        i = text.index(anchor)
        j = text.rindex('Errors:', 0, i)
        text = text[:j] + 'Failures:' + text[j + len('Errors:'):]
        with open(path, 'w') as f:
            f.write(text)
        out = io.StringIO()
        with redirect_stdout(out):
            rc = check(copy)
        sys.stdout.write(out.getvalue())
        ok = rc == 1 and 'carnet_record_get: no "Errors:" list' in out.getvalue()
        print('self-test: %s' % ('the missing list was caught' if ok else 'NOT CAUGHT'))
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    selftest = bool(args) and args[0] == '--self-test'
    if selftest:
        args = args[1:]
    inc = args[0] if args else os.path.join(here, '..', 'include', 'carnet')
    return self_test(inc) if selftest else check(inc)


def check(inc):
    with open(os.path.join(inc, 'error.h')) as f:
        codes = set('CARNET_' + m for m in re.findall(r'X\((E[A-Z]+),', f.read()))
    bad = 0
    checked = 0
    for name in sorted(os.listdir(inc)):
        if not name.endswith('.h'):
            continue
        path = os.path.join(inc, name)
        with open(path) as f:
            lines = f.read().split('\n')
        for i, line in enumerate(lines):
            m = re.match(r'CARNET_API\s+int\s+(carnet_\w+)\s*\(', line)
            if not m:
                continue
            checked += 1
            fn = m.group(1)
            doc = comment_above(lines, i)
            where = '%s:%d: %s' % (os.path.relpath(path), i + 1, fn)
            em = re.search(r'Errors:(.*?)(?:\*/|\n\s*\*\s*\n|$)', doc, re.S)
            if not em:
                print('%s: no "Errors:" list in its comment' % where)
                bad += 1
                continue
            body = em.group(1)
            cited = set(re.findall(r'CARNET_E[A-Z]+', body))
            unknown = cited - codes
            if unknown:
                print('%s: cites unknown codes %s' % (where, ', '.join(sorted(unknown))))
                bad += 1
            if not cited and not re.search(r'\bnone\b|\bas carnet_\w+', body):
                print('%s: "Errors:" lists no CARNET_E* code (say "none" or "as carnet_x")' % where)
                bad += 1
    print('check-api-docs: %d int-returning public calls, %d without a proper "Errors:" list'
          % (checked, bad))
    return 1 if bad or checked == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
