#!/usr/bin/env python3
"""Code lines of crates/normalizer/src: non-blank lines that are not comments, outside
`#[cfg(test)]` items and `tests.rs` files (braces inside string literals are not counted when an
item's end is looked for). Prints the count per file and the total; `--max N` exits 1 when the
total is over N (scripts/checks/normalizer-size.sh)."""

import argparse
import re
import sys
from pathlib import Path

RAW_STRING = re.compile(r'r(#*)"')


def without_literals(src: str) -> str:
    """`src` with the braces inside string and char literals removed (line breaks kept)."""
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("//", i):
            end = src.find("\n", i)
            end = n if end < 0 else end
            out.append(src[i:end])
            i = end
            continue
        raw = RAW_STRING.match(src, i)
        if raw and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            close = '"' + raw.group(1)
            end = src.find(close, raw.end())
            end = n if end < 0 else end + len(close)
            out.append(re.sub(r"[{}]", "", src[i:end]))
            i = end
            continue
        if src[i] == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append(re.sub(r"[{}]", "", src[i : j + 1]))
            i = j + 1
            continue
        char = re.match(r"'(\\.|[^\\'])'", src[i : i + 4])
        if src[i] == "'" and char:
            out.append("'x'")
            i += len(char.group(0))
            continue
        out.append(src[i])
        i += 1
    return "".join(out)


def code_lines(path: Path) -> int:
    lines = without_literals(path.read_text()).split("\n")
    count, i = 0, 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("#[cfg(test)]"):
            # Skip the item: to the brace that closes it, or to its `;` (`mod tests;`).
            depth, opened = 0, False
            i += 1
            while i < len(lines):
                text = "" if lines[i].strip().startswith("//") else lines[i]
                depth += text.count("{") - text.count("}")
                opened = opened or "{" in text
                if (opened and depth <= 0) or (not opened and text.strip().endswith(";")):
                    break
                i += 1
        elif line and not line.startswith("//"):
            count += 1
        i += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", default="crates/normalizer/src")
    parser.add_argument("--max", type=int)
    args = parser.parse_args()
    files = sorted(p for p in Path(args.root).rglob("*.rs") if p.name != "tests.rs")
    total = 0
    for path in files:
        n = code_lines(path)
        total += n
        print(f"{n:6} {path}")
    print(f"{total:6} total")
    if args.max is not None and total > args.max:
        print(f"{args.root}: {total} code lines, more than {args.max}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
