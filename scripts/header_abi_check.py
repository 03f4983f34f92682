#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""header_abi_check.py OURS THEIRS INCLUDE_DIR: two C headers define the same ABI.

For each header, a C program is generated that prints the size of every struct,
the offset and size of every field (union members included), and the value of
every enumerator and integer #define. Each program is compiled against both
headers (a name missing from one fails to compile) and the outputs must be equal.
Used for drivers/iommu/iommufd/iommufd_test.h, the test ABI the kernel's own
selftests include, which Rust cannot compare at compile time as it does for the
uAPI header.
"""
import os
import re
import subprocess
import sys
import tempfile


def strip(src):
    src = re.sub(r'/\*.*?\*/', '', src, flags=re.S)
    return re.sub(r'//.*', '', src)


def fields(body, prefix=''):
    """Yields field paths of a struct or union body, descending into anonymous and
    named nested aggregates."""
    i = 0
    while i < len(body):
        m = re.compile(r'\s*(struct|union)\s*\{').match(body, i)
        if m:
            depth, j = 1, m.end()
            while depth:
                depth += {'{': 1, '}': -1}.get(body[j], 0)
                j += 1
            inner = body[m.end():j - 1]
            k = body.index(';', j)
            name = body[j:k].strip()
            sub = prefix + name + '.' if name else prefix
            yield from fields(inner, sub)
            if name:
                yield prefix + name
            i = k + 1
            continue
        k = body.find(';', i)
        if k < 0:
            break
        decl = body[i:k].strip()
        i = k + 1
        if not decl or decl.startswith('#'):
            continue
        name = re.sub(r'\[.*\]', '', decl.split()[-1])
        yield prefix + name


def program(header_src):
    src = strip(header_src)
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include HEADER', 'int main(void) {']
    for m in re.finditer(r'^struct (\w+) \{', src, flags=re.M):
        name = m.group(1)
        depth, j = 1, m.end()
        while depth:
            depth += {'{': 1, '}': -1}.get(src[j], 0)
            j += 1
        body = src[m.end():j - 1]
        body = re.sub(r'^\s*#.*$', '', body, flags=re.M)
        lines.append('printf("sizeof %s %%zu\\n", sizeof(struct %s));' % (name, name))
        for f in fields(body):
            lines.append('printf("%s.%s %%zu %%zu\\n", offsetof(struct %s, %s), '
                         'sizeof(((struct %s *)0)->%s));' % (name, f, name, f, name, f))
    for m in re.finditer(r'enum\s*\w*\s*\{(.*?)\}', src, flags=re.S):
        for item in m.group(1).split(','):
            n = item.split('=')[0].strip()
            if n:
                lines.append('printf("%s %%lld\\n", (long long)(%s));' % (n, n))
    for m in re.finditer(r'^#define (\w+)\s+(\S.*)$', src, flags=re.M):
        if not m.group(1).startswith('_'):
            lines.append('printf("%s %%lld\\n", (long long)(%s));' % (m.group(1), m.group(1)))
    lines += ['return 0;', '}']
    return '\n'.join(lines) + '\n'


def run(prog, header, inc, tmp):
    c = os.path.join(tmp, 'p.c')
    exe = os.path.join(tmp, 'p')
    open(c, 'w').write(prog)
    r = subprocess.run(['gcc', '-o', exe, '-I', inc, '-DHEADER="%s"' % header, c],
                       capture_output=True, text=True)
    if r.returncode:
        return 'compile error against %s:\n%s' % (header, r.stderr[:2000])
    return subprocess.run([exe], capture_output=True, text=True).stdout


def main():
    ours, theirs, inc = sys.argv[1:4]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for origin in (ours, theirs):
            prog = program(open(origin).read())
            a = run(prog, os.path.abspath(ours), inc, tmp)
            b = run(prog, os.path.abspath(theirs), inc, tmp)
            if a != b:
                ok = False
                print('differs (names from %s):' % origin)
                al, bl = a.splitlines(), b.splitlines()
                for x, y in zip(al, bl):
                    if x != y:
                        print('  ours: %s | theirs: %s' % (x, y))
                if len(al) != len(bl):
                    print(a[:2000])
                    print(b[:2000])
            else:
                print('%d facts equal (names from %s)' % (len(a.splitlines()), os.path.basename(origin)))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
