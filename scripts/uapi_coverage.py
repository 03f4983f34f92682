#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""uapi_coverage.py IOMMUFD_H ABI_CHECK_RS

Checks that the compile-time ABI check of the module covers the whole uAPI of the
kernel tree: every struct of include/uapi/linux/iommufd.h must be compared by a
same_layout! line, and every enumerator by a same_value! entry. Prints what is
missing and exits 1 if anything is.
"""
import re
import sys


def main():
    header = open(sys.argv[1]).read()
    check = open(sys.argv[2]).read()
    header = re.sub(r'/\*.*?\*/', '', header, flags=re.S)
    structs = set(re.findall(r'^struct (\w+) \{', header, flags=re.M))
    checked = set(re.findall(r'same_layout!\((\w+)', check))
    enums = set()
    for m in re.finditer(r'enum (\w+ )?\{(.*?)\};', header, flags=re.S):
        prefix = (m.group(1) or '').strip()
        for item in m.group(2).split(','):
            name = item.split('=')[0].strip()
            if name:
                enums.add(prefix + '_' + name if prefix else name)
    values = set(re.findall(r'^\s+(\w+),$', check, flags=re.M))
    missing = sorted(structs - checked) + sorted(enums - values)
    for name in missing:
        print('not checked:', name)
    print('%d structs, %d enumerators; %d not checked' % (len(structs), len(enums), len(missing)))
    return 1 if missing or not structs else 0


if __name__ == '__main__':
    sys.exit(main())
