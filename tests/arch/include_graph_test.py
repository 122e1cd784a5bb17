#!/usr/bin/python3
"""Checks that `#include "mapd/<module>/..."` lines follow the module graph (docs/architecture.md).

Usage: include_graph_test.py SOURCE_DIR [--print-edges]

ALLOWED below is the one table of which module may include which. The test fails (exit 1) when
  - a file under include/mapd/<m>/ or src/<m>/ (or src/main.cpp, module "main") includes a mapd
    header of a module that ALLOWED does not list for <m> (a module may always include itself);
  - an edge of ALLOWED is not backed by the CMake link graph parsed from src/*/CMakeLists.txt and
    the top-level CMakeLists.txt (the table cannot allow what the build does not link);
  - a CMake file names a mapd_* target this script does not know, or a folder under src/ or
    include/mapd/ is not a known module (so a new module or target cannot slip past the table);
  - the dependency diagram in docs/architecture.md ("Dependency rule") is not the one drawn from
    the link graph. `--print-edges` prints the edges and that diagram, sorted and stable.

"Backed" follows CMake's usage requirements: A may use B when a target of A links a target of B
directly (PUBLIC, PRIVATE or INTERFACE), or reaches it through a chain of PUBLIC/INTERFACE links
after that first link. Links inside if() blocks count (all modules are built), except that
`if(TARGET mapd_x)` only holds when mapd_x's module comes earlier in MAPD_MODULES (add_subdirectory
order), as it does in CMake. foreach() loops are unrolled; set() variables of the same file are
expanded; other variables (${TORCH_LIBRARIES}) name no mapd target and are ignored.

Standard library only.
"""

import argparse
import os
import re
import sys

MODULES = ["core", "config", "record", "data", "models", "dist", "train", "probes", "knn", "report", "pipeline",
           "cli"]

# The allowed include edges: module -> modules it may include (itself always allowed). Derived
# from the target_link_libraries lines: every module may include exactly the modules it links
# directly; main (src/main.cpp) links mapd_cli and includes core for mapd::Error, which it reaches
# through cli's PUBLIC links.
ALLOWED = {
    "core": set(),
    "config": {"core"},
    "record": {"core"},
    "data": {"config", "core"},
    "models": {"config", "core"},
    "dist": {"core"},
    "train": {"models", "data", "record", "config", "core", "knn", "dist"},
    "probes": {"config", "core", "data", "train", "record"},
    "knn": {"config", "core", "record"},
    "report": {"config", "record", "core", "data"},
    "pipeline": {"config", "core", "data", "record", "probes", "train", "knn", "report", "dist"},
    "cli": {"pipeline", "config", "core", "data", "record", "probes", "train", "knn", "report", "dist"},
    "main": {"cli", "core"},
}

# CMake target -> module.
TARGET_MODULE = {
    "mapd_core": "core",
    "mapd_core_torch": "core",
    "mapd_config": "config",
    "mapd_record": "record",
    "mapd_data": "data",
    "mapd_models": "models",
    "mapd_dist": "dist",
    "mapd_train": "train",
    "mapd_probes": "probes",
    "mapd_knn": "knn",
    "mapd_knn_torch": "knn",
    "mapd_report": "report",
    "mapd_pipeline": "pipeline",
    "mapd_cli": "cli",
    "mapd": "main",
}
# mapd_* targets that are build settings, not modules (cmake/MapdWarnings.cmake, MapdTorch.cmake).
IGNORED_TARGETS = {"mapd_warnings", "mapd_torch_pch"}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*["<]mapd/([^">]*)[">]')
TARGET_RE = re.compile(r"(?<![A-Za-z0-9_])mapd(?:_[A-Za-z0-9_]+)?(?![A-Za-z0-9_])")
VAR_RE = re.compile(r"\$\{([A-Za-z0-9_.+-]+)\}")
KEYWORDS = {"PUBLIC": "PUBLIC", "PRIVATE": "PRIVATE", "INTERFACE": "INTERFACE",
            "LINK_PUBLIC": "PUBLIC", "LINK_PRIVATE": "PRIVATE", "LINK_INTERFACE_LIBRARIES": "INTERFACE"}
DIAGRAM_HEADING = "## Dependency rule"


# --- CMake parsing ---------------------------------------------------------------------------------

def cmake_commands(text):
    """Yields (name, [args], line) for each command of a CMake file (quoted/bracket args, comments)."""
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            m = re.match(r"#\[(=*)\[", text[i:])
            if m:
                end = text.find("]" + m.group(1) + "]", i)
                end = n if end < 0 else end + len(m.group(1)) + 2
            else:
                end = text.find("\n", i)
                end = n if end < 0 else end
            line += text.count("\n", i, end)
            i = end
        else:
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i:])
            if not m:
                i += 1
                continue
            name, start_line = m.group(0).lower(), line
            i += len(m.group(0))
            while i < n and text[i] in " \t":
                i += 1
            if i >= n or text[i] != "(":
                continue
            i += 1
            args, depth, cur, quoted = [], 0, [], False

            def flush():
                if cur:
                    args.append(("".join(cur), quoted))
                    cur.clear()

            while i < n:
                c = text[i]
                if c == "\n":
                    line += 1
                if c == '"':
                    flush()
                    j = i + 1
                    buf = []
                    while j < n and text[j] != '"':
                        if text[j] == "\\" and j + 1 < n:
                            buf.append(text[j:j + 2])
                            j += 2
                            continue
                        buf.append(text[j])
                        j += 1
                    s = "".join(buf)
                    line += s.count("\n")
                    args.append((s, True))
                    i = j + 1
                    continue
                if c == "#":
                    flush()
                    end = text.find("\n", i)
                    i = n if end < 0 else end
                    continue
                if c == "(":
                    depth += 1
                elif c == ")":
                    if depth == 0:
                        flush()
                        i += 1
                        break
                    depth -= 1
                if c.isspace():
                    flush()
                else:
                    cur.append(c)
                i += 1
            yield name, args, start_line


def parse_blocks(commands):
    """Nests the flat command list into control blocks: ("cmd", name, args, line) or
    ("block", kind, head_args, line, [(branch_args, body)...])."""
    root = []
    stack = [(None, root)]
    closers = {"endforeach": "foreach", "endif": "if", "endwhile": "while",
               "endfunction": "function", "endmacro": "macro"}
    for name, args, line in commands:
        if name in ("foreach", "if", "while", "function", "macro"):
            body = []
            node = ("block", name, args, line, [(args, body)])
            stack[-1][1].append(node)
            stack.append((node, body))
        elif name in ("elseif", "else") and stack[-1][0] is not None and stack[-1][0][1] == "if":
            node = stack[-1][0]
            body = []
            node[4].append((args, body))
            stack[-1] = (node, body)
        elif name in closers and stack[-1][0] is not None and stack[-1][0][1] == closers[name]:
            stack.pop()
        else:
            stack[-1][1].append(("cmd", name, args, line))
    return root


def expand(args, env):
    """Expands ${VAR} from env; unquoted list values split into several arguments."""
    out = []
    for text, quoted in args:
        for _ in range(8):
            new = VAR_RE.sub(lambda m: ";".join(env[m.group(1)]) if m.group(1) in env else m.group(0), text)
            if new == text:
                break
            text = new
        if quoted:
            out.append(text)
        else:
            out.extend(p for p in text.split(";") if p != "")
    return out


class LinkGraph:
    def __init__(self):
        self.links = []          # (from_target, to_target, keyword, conditional, file, line)
        self.defined = {}        # target -> (file, line)
        self.errors = []

    def add_file(self, path, rel, module_order):
        with open(path, encoding="utf-8", errors="replace") as f:
            blocks = parse_blocks(cmake_commands(f.read()))
        self._run(blocks, {}, rel, module_order, conditional=False)

    def _target_ok(self, name, rel, line):
        if name in TARGET_MODULE or name in IGNORED_TARGETS:
            return True
        self.errors.append(f"{rel}:{line}: CMake target '{name}' is not mapped to a module "
                           f"(add it to TARGET_MODULE or IGNORED_TARGETS in {os.path.basename(__file__)})")
        return False

    def _condition_holds(self, cond, env, module_order):
        """False only for if(TARGET mapd_x) where mapd_x cannot exist yet; anything else holds."""
        words = expand(cond, env)
        if len(words) == 2 and words[0] == "TARGET" and words[1] in TARGET_MODULE:
            here, there = module_order.get("__current__"), module_order.get(TARGET_MODULE[words[1]])
            if here is not None and there is not None and there >= here and \
                    TARGET_MODULE[words[1]] != module_order.get("__current_module__"):
                return False
        return True

    def _run(self, nodes, env, rel, module_order, conditional):
        for node in nodes:
            if node[0] == "cmd":
                _, name, args, line = node
                words = expand(args, env)
                if name == "set" and words:
                    env[words[0]] = [w for w in words[1:] if w != "PARENT_SCOPE"]
                elif name in ("add_library", "add_executable") and words:
                    t = words[0]
                    if TARGET_RE.fullmatch(t):
                        self.defined[t] = (rel, line)
                        self._target_ok(t, rel, line)
                elif name == "target_link_libraries" and words:
                    src = words[0]
                    if not TARGET_RE.fullmatch(src) or src in IGNORED_TARGETS:
                        continue
                    if not self._target_ok(src, rel, line):
                        continue
                    keyword = "PUBLIC"  # the plain signature is transitive
                    for w in words[1:]:
                        if w in KEYWORDS:
                            keyword = KEYWORDS[w]
                            continue
                        for dst in TARGET_RE.findall(w):
                            if dst in IGNORED_TARGETS or not self._target_ok(dst, rel, line):
                                continue
                            self.links.append((src, dst, keyword, conditional, rel, line))
                continue
            _, kind, head, line, branches = node
            if kind in ("function", "macro"):
                continue  # bodies run only when called; src/ calls none of its own
            if kind == "foreach":
                words = expand(head, env)
                if not words:
                    continue
                var, rest = words[0], words[1:]
                if rest[:1] == ["RANGE"] or rest[:1] == ["IN"] and rest[1:2] == ["ZIP_LISTS"]:
                    self.errors.append(f"{rel}:{line}: foreach({' '.join(words)}) is not understood")
                    continue
                if rest[:1] == ["IN"]:
                    items, mode = [], None
                    for w in rest[1:]:
                        if w in ("LISTS", "ITEMS"):
                            mode = w
                        elif mode == "LISTS":
                            items.extend(env.get(w, []))
                        else:
                            items.append(w)
                else:
                    items = rest
                for item in items:
                    self._run(branches[0][1], dict(env, **{var: [item]}), rel, module_order, conditional)
                continue
            for cond, body in branches:  # if/elseif/else and while: every branch counts
                if kind == "if" and not self._condition_holds(cond, env, module_order):
                    continue
                self._run(body, dict(env), rel, module_order, True)

    def module_links(self):
        """{(from_module, to_module): {"keywords": set, "conditional": bool, "where": [...]}}."""
        out = {}
        for src, dst, kw, cond, rel, line in self.links:
            a, b = TARGET_MODULE[src], TARGET_MODULE[dst]
            if a == b:
                continue
            e = out.setdefault((a, b), {"keywords": set(), "conditional": True, "where": []})
            e["keywords"].add(kw)
            e["conditional"] = e["conditional"] and cond
            e["where"].append(f"{rel}:{line}")
        return out

    def reachable(self):
        """module -> modules whose headers it may use under CMake's usage-requirement rules."""
        direct, public = {}, {}
        for src, dst, kw, _, _, _ in self.links:
            direct.setdefault(src, set()).add(dst)
            if kw in ("PUBLIC", "INTERFACE"):
                public.setdefault(src, set()).add(dst)
        out = {}
        for t in TARGET_MODULE:
            seen, todo = set(), list(direct.get(t, ()))
            while todo:
                x = todo.pop()
                if x in seen:
                    continue
                seen.add(x)
                todo.extend(public.get(x, ()))
            out.setdefault(TARGET_MODULE[t], set()).update(TARGET_MODULE[x] for x in seen)
        for m in out:
            out[m].discard(m)
        return out


def module_order(source_dir):
    """MAPD_MODULES from the top-level CMakeLists.txt: the add_subdirectory order."""
    path = os.path.join(source_dir, "CMakeLists.txt")
    with open(path, encoding="utf-8", errors="replace") as f:
        for name, args, _ in cmake_commands(f.read()):
            if name == "set" and args and args[0][0] == "MAPD_MODULES":
                return {m: i for i, (m, _) in enumerate(args[1:])}
    return {}


def load_link_graph(source_dir):
    graph = LinkGraph()
    order = module_order(source_dir)
    if not order:
        graph.errors.append("CMakeLists.txt: set(MAPD_MODULES ...) not found")
    top = os.path.join(source_dir, "CMakeLists.txt")
    graph.add_file(top, "CMakeLists.txt", {})
    src = os.path.join(source_dir, "src")
    for module in sorted(os.listdir(src)):
        path = os.path.join(src, module, "CMakeLists.txt")
        if os.path.isfile(path):
            ctx = dict(order, __current__=order.get(module), __current_module__=module)
            graph.add_file(path, f"src/{module}/CMakeLists.txt", ctx)
    return graph


# --- includes --------------------------------------------------------------------------------------

def source_files(source_dir, errors):
    """Yields (module, path, rel) for every file under include/mapd/<m>/, src/<m>/ and src/main.cpp."""
    for base in (os.path.join("include", "mapd"), "src"):
        root = os.path.join(source_dir, base)
        if not os.path.isdir(root):
            errors.append(f"{base}/ does not exist")
            continue
        for entry in sorted(os.listdir(root)):
            path = os.path.join(root, entry)
            rel = f"{base}/{entry}"
            if os.path.isdir(path):
                if entry not in MODULES:
                    errors.append(f"{rel}/ is not a known module (MODULES and ALLOWED in "
                                  f"{os.path.basename(__file__)})")
                    continue
                for dirpath, dirnames, filenames in os.walk(path):
                    dirnames.sort()
                    for fn in sorted(filenames):
                        full = os.path.join(dirpath, fn)
                        yield entry, full, os.path.relpath(full, source_dir).replace(os.sep, "/")
            elif rel == "src/main.cpp":
                yield "main", path, rel
            elif not entry.startswith(".") and entry != "CMakeLists.txt":
                errors.append(f"{rel} belongs to no module")


def scan_includes(source_dir, errors):
    """[(module, rel, line, included_module)] and the number of files scanned."""
    found, files = [], 0
    for module, path, rel in source_files(source_dir, errors):
        files += 1
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, text in enumerate(f, 1):
                m = INCLUDE_RE.match(text)
                if m:
                    target = m.group(1).split("/")[0] if "/" in m.group(1) else None
                    found.append((module, rel, n, target, m.group(1)))
    return found, files


# --- the diagram -----------------------------------------------------------------------------------

def levels(edges):
    """Longest path to a sink, per module (core 0)."""
    nodes = set(MODULES) | {"main"} | {a for a, _ in edges} | {b for _, b in edges}
    out = {}

    def level(m, path=()):
        if m in out:
            return out[m]
        if m in path:
            raise ValueError("the link graph has a cycle: " + " -> ".join(path + (m,)))
        deps = [b for a, b in edges if a == m]
        out[m] = 1 + max(level(b, path + (m,)) for b in deps) if deps else 0
        return out[m]

    for m in nodes:
        level(m)
    return out


def diagram(edges):
    """One row per module, highest level first: its direct dependencies that no longer path implies,
    then (in parentheses) the direct links that a longer path already implies."""
    lv = levels(edges)
    deps = {m: {b for a, b in edges if a == m} for m in lv}

    def closure(m):
        seen, todo = set(), list(deps[m])
        while todo:
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo.extend(deps[x])
        return seen

    def order(ms):
        return sorted(ms, key=lambda m: (-lv[m], m))

    parts = []
    for m in order(lv):
        implied = {d for d in deps[m] if any(d in closure(o) for o in deps[m] if o != d)}
        parts.append((m, " ".join(order(deps[m] - implied)), " ".join(order(implied))))
    width = max(len(m) for m, _, _ in parts)
    kept_width = max(len(k) for _, k, _ in parts)
    rows = []
    for m, kept, implied in parts:
        row = f"{m:<{width}}"
        if kept:
            row += f" ─► {kept:<{kept_width}}"
        if implied:
            row += f"   ({implied})"
        rows.append(row.rstrip())
    return rows


def doc_diagram(source_dir):
    """The first ``` block after the "Dependency rule" heading of docs/architecture.md, or None."""
    path = os.path.join(source_dir, "docs", "architecture.md")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == DIAGRAM_HEADING)
        begin = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
        end = next(i for i in range(begin + 1, len(lines)) if lines[i].startswith("```"))
    except StopIteration:
        return []
    return [l.rstrip() for l in lines[begin + 1:end]]


# --- main ------------------------------------------------------------------------------------------

def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir")
    parser.add_argument("--print-edges", action="store_true",
                        help="print the link graph's module edges and the diagram docs/architecture.md shows")
    args = parser.parse_args(argv)
    source_dir = os.path.abspath(args.source_dir)

    errors = []
    graph = load_link_graph(source_dir)
    errors.extend(graph.errors)
    links = graph.module_links()
    reach = graph.reachable()

    # The table against the build.
    for m in sorted(set(ALLOWED) - set(MODULES) - {"main"}):
        errors.append(f"ALLOWED names '{m}', which is not a module")
    for m in MODULES + ["main"]:
        if m not in ALLOWED:
            errors.append(f"ALLOWED has no row for module '{m}'")
    for a in sorted(ALLOWED):
        for b in sorted(ALLOWED[a]):
            if b not in reach.get(a, set()):
                errors.append(f"ALLOWED edge {a} -> {b} is not backed by the CMake link graph "
                              f"(no target of {a} links a target of {b}, directly or through PUBLIC links)")

    # The includes against the table.
    found, files = scan_includes(source_dir, errors)
    used = {}
    for module, rel, line, target, header in found:
        if target is None or target not in MODULES:
            errors.append(f"{rel}:{line}: includes \"mapd/{header}\", which is in no module")
            continue
        if target != module:
            used[(module, target)] = used.get((module, target), 0) + 1
        if target != module and target not in ALLOWED.get(module, set()):
            errors.append(f"{rel}:{line}: {module} -> {target} (\"mapd/{header}\") is not an allowed edge")

    edges = sorted(links)
    try:
        rows = diagram(edges)
    except ValueError as e:
        errors.append(str(e))
        rows = []

    if args.print_edges:
        print("# CMake link graph, module -> module (direct links; * = only inside if/foreach blocks)")
        width = max(len(a) for a, _ in edges)
        for a, b in edges:
            e = links[(a, b)]
            print(f"{a:<{width}} -> {b:<7} {'/'.join(sorted(e['keywords'])):<14}"
                  f"{'*' if e['conditional'] else ' '} allowed={'yes' if b in ALLOWED.get(a, ()) else 'no '}"
                  f"  includes={used.get((a, b), 0)}")
        extra = sorted((a, b) for a in ALLOWED for b in ALLOWED[a] if (a, b) not in links)
        for a, b in extra:
            print(f"{a:<{width}} -> {b:<7} {'(transitive)':<14}  allowed=yes  includes={used.get((a, b), 0)}")
        print()
        print("# diagram (docs/architecture.md, Dependency rule)")
        for r in rows:
            print(r)
        print()

    doc = doc_diagram(source_dir)
    if doc is not None and rows and doc != rows:
        errors.append("docs/architecture.md: the diagram under \"" + DIAGRAM_HEADING + "\" is not the one "
                      "drawn from the CMake links; replace it with the one `--print-edges` prints:\n    "
                      + "\n    ".join(rows))

    if errors:
        for e in errors:
            print(f"include graph: {e}", file=sys.stderr)
        print(f"include graph: FAILED ({len(errors)} problem{'s' if len(errors) != 1 else ''})", file=sys.stderr)
        return 1
    print(f"include graph: {len(found)} includes in {files} files follow the allowed edges")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
