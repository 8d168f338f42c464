#!/usr/bin/env bash
# The shape of the sources: lines per target, the longest files, the longest functions.
# A function is a `func`, `init`, `deinit`, `subscript` or computed accessor whose body is found by
# brace matching (braces inside string literals and comments are skipped); its length counts the
# lines from its declaration to its closing brace. Reusable after any merge.
# Usage: Benchmarks/shape/measure.sh [top-N] [commit]   (a commit is measured from `git archive`)
set -euo pipefail
cd "$(dirname "$0")/../.."
top=${1:-10}
root=Sources
if [ -n "${2:-}" ]; then
    tmp=$(mktemp -d /tmp/mg-shape.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    git archive "$2" Sources | tar -x -C "$tmp"
    root="$tmp/Sources"
fi
python3 - "$root" "$top" <<'PY'
import os, re, sys
root, top = sys.argv[1], int(sys.argv[2])

def strip(text):
    """The text with string literals and comments blanked, newlines kept (so braces in them don't count)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif text.startswith('"""', i):
            j = text.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c == '"':
            j, depth = i + 1, 0
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "(":
                    depth += 1; j += 2; continue
                if text[j] == "\\":
                    j += 2; continue
                if depth and text[j] == ")":
                    depth -= 1
                elif not depth and text[j] == '"':
                    break
                j += 1
            out.append(" " * (j + 1 - i)); i = j + 1
        else:
            out.append(c); i += 1
    return "".join(out)

decl = re.compile(r"\b(func\s+[^\s(<]+|init[?!]?\s*[(<]|deinit\b|subscript\s*[(<]|var\s+\w+\s*:[^=\n{]+(?=\{))")
targets, files, funcs = {}, [], []
for dirpath, _, names in os.walk(root):
    for name in names:
        if not name.endswith(".swift"):
            continue
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, os.path.dirname(root))
        text = open(path, encoding="utf-8").read()
        lines = text.count("\n")
        target = rel.split(os.sep)[1]
        targets[target] = targets.get(target, 0) + lines
        files.append((lines, rel))
        code = strip(text)
        for m in decl.finditer(code):
            # The body is the first `{` after the declaration (skipping any parameter lists).
            j, paren = m.end(), 0
            while j < len(code):
                ch = code[j]
                if ch in "([": paren += 1
                elif ch in ")]": paren -= 1
                elif ch == "{" and paren <= 0: break
                elif ch == "\n" and paren <= 0:
                    # A signature continues on the next line only with these; otherwise it had no body.
                    rest = code[j:].lstrip()
                    if not rest.startswith(("{", "->", "throws", "rethrows", "async", "where")):
                        break
                j += 1
            if j >= len(code) or code[j] != "{":
                continue
            depth, k = 0, j
            while k < len(code):
                if code[k] == "{": depth += 1
                elif code[k] == "}":
                    depth -= 1
                    if depth == 0: break
                k += 1
            start = code.count("\n", 0, m.start()) + 1
            end = code.count("\n", 0, k) + 1
            label = m.group(1).rstrip("(<").strip()
            funcs.append((end - start + 1, f"{rel}:{start}", label))
for d in sorted(os.listdir(root)):
    if os.path.isdir(os.path.join(root, d)):
        targets.setdefault(d, 0)
print("| target | lines |\n|---|---|")
for t in sorted(targets):
    print(f"| {t} | {targets[t]} |")
print(f"| total | {sum(targets.values())} |")
print("\n| longest files | lines |\n|---|---|")
for lines, rel in sorted(files, reverse=True)[:top]:
    print(f"| {rel} | {lines} |")
print("\n| longest functions | where | lines |\n|---|---|---|")
for length, where, label in sorted(funcs, key=lambda f: (-f[0], f[1]))[:top]:
    print(f"| `{label}` | {where} | {length} |")
over = sum(1 for f in funcs if f[0] > 80)
print(f"\nfunctions over 80 lines: {over}; files over 300 lines: {sum(1 for f in files if f[0] > 300)}")
PY
