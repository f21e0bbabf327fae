"""Protocol audit: what a train/test partition file really measures, checked before it is used.

Any partition (EmoBox's ``<corpus>_{train,test}_fold_K.jsonl``, or a user's JSONL/CSV with ``key``
and ``emo``, optionally ``speaker`` and ``wav``) goes through the same checks:

=====================  ======================================================================
check                  finding
=====================  ======================================================================
speaker_overlap        speakers/subjects on both sides (error: the split is speaker-dependent;
                       its scores are not speaker-independent scores), with the share of test
                       clips whose speaker is seen in training
speaker_unknown        entries whose speaker cannot be determined (warning)
duplicate_key          a key twice on one side (warning) or on both sides (error)
duplicate_media        one ``wav`` path, or one media file content (MD5 of the bytes, when
                       the clips are on disk), under two keys across sides (error) or on one
                       side (warning)
class_missing          a class on one side only (error if absent from train, warning if
                       absent from test)
class_imbalance        max/min class count ratio over the partition above ``imbalance_ratio``
                       (warning)
class_shift            total-variation distance between the train and test class
                       distributions above ``max_shift`` (warning)
content_overlap        test clips whose sentence/text id also occurs in training (info: acted
                       corpora reuse a few fixed sentences; a model may learn them)
fold_coverage          k-fold sets: every clip in exactly one test fold and each fold's
                       train + test = the corpus (error otherwise)
=====================  ======================================================================

Speakers come from an entry's ``speaker`` field, else from the matched clip of our corpus reader,
else from the corpus's naming rule (:data:`SPEAKER_RULES`, applied to the key).
``python -m emozoo.data audit`` runs it from the command line.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Callable, Sequence

from emozoo.data.emobox import EmoBoxEntry, read_partition
from emozoo.data.manifest import Manifest
from emozoo.errors import SplitError

#: clip id -> speaker, per corpus naming convention (EmoBox keys are ``<corpus>-<clip id>``).
SPEAKER_RULES: dict[str, Callable[[str], str]] = {
    "emodb": lambda cid: cid[:2],                       # 03a01Wa: speaker 03
    "casia": lambda cid: cid.split("-")[1].lower(),     # 201-wangzhe-angry
    "ravdess": lambda cid: cid.split("-")[6],           # 03-01-05-01-02-01-18: actor 18
}
#: clip id -> spoken content (sentence / statement id).
CONTENT_RULES: dict[str, Callable[[str], str]] = {
    "emodb": lambda cid: cid[2:5],                      # text code a01..b10
    "casia": lambda cid: cid.split("-")[0],             # sentence 201..250
    "ravdess": lambda cid: cid.split("-")[4],           # statement 01/02
}

LEVELS = ("error", "warning", "info")


@dataclasses.dataclass
class Finding:
    level: str
    check: str
    message: str
    details: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class AuditReport:
    """Findings of one train/test partition (or a k-fold set), with its statistics."""

    name: str
    findings: list
    stats: dict

    @property
    def errors(self) -> list:
        return [f for f in self.findings if f.level == "error"]

    def has(self, check: str, level: str | None = None) -> bool:
        return any(f.check == check and (level is None or f.level == level) for f in self.findings)

    def to_json(self) -> dict:
        return {"name": self.name, "stats": self.stats, "findings": [dataclasses.asdict(f) for f in self.findings]}

    def format(self) -> str:
        lines = [f"== {self.name}: {len(self.errors)} error(s), "
                 f"{sum(f.level == 'warning' for f in self.findings)} warning(s)"]
        for f in sorted(self.findings, key=lambda f: LEVELS.index(f.level)):
            lines.append(f"  [{f.level}] {f.check}: {f.message}")
        return "\n".join(lines)


def _rule(rules: dict, entry: EmoBoxEntry, corpus: str):
    fn = rules.get(corpus or entry.corpus)
    if fn is None:
        return ""
    try:
        return fn(entry.clip_id)
    except (IndexError, AttributeError):
        return ""


def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _Resolver:
    """Speaker, content and media path of entries: entry field > matched clip > corpus rule."""

    def __init__(self, corpus: str = "", manifest: Manifest | None = None, hash_media: bool = False):
        self.corpus = corpus
        self.rows = {}
        if manifest is not None:
            self.rows = {(r.corpus.lower(), r.clip_id.lower()): r for r in manifest}
        self.hash_media = hash_media
        self._hashes: dict[str, str] = {}

    def row(self, e: EmoBoxEntry):
        return self.rows.get(((self.corpus or e.corpus).lower(), e.clip_id.lower()))

    def speaker(self, e: EmoBoxEntry) -> str:
        if e.speaker:
            return e.speaker
        r = self.row(e)
        if r is not None and r.speaker:
            return r.speaker.lower()
        return _rule(SPEAKER_RULES, e, self.corpus)

    def content(self, e: EmoBoxEntry) -> str:
        return _rule(CONTENT_RULES, e, self.corpus)

    def media_hash(self, e: EmoBoxEntry) -> str:
        if not self.hash_media:
            return ""
        r = self.row(e)
        if r is None or not r.path or not os.path.isfile(r.path):
            return ""
        if r.path not in self._hashes:
            self._hashes[r.path] = _md5(r.path)
        return self._hashes[r.path]


def _dups(values: Sequence[tuple[str, str]]) -> dict:
    """``{value: [keys]}`` for values shared by more than one distinct key."""
    by = collections.defaultdict(set)
    for v, key in values:
        if v:
            by[v].add(key)
    return {v: sorted(ks) for v, ks in by.items() if len(ks) > 1}


def audit_partition(train: Sequence[EmoBoxEntry], test: Sequence[EmoBoxEntry], *, name: str = "partition",
                    corpus: str = "", manifest: Manifest | None = None, hash_media: bool = False,
                    imbalance_ratio: float = 3.0, max_shift: float = 0.1, _resolver=None) -> AuditReport:
    """Audit one train/test partition (see the module docstring for the checks)."""
    if not train or not test:
        raise SplitError(f"{name}: empty {'train' if not train else 'test'} side ({len(train)} / {len(test)} entries)")
    res = _resolver or _Resolver(corpus, manifest, hash_media)
    findings: list[Finding] = []
    sides = {"train": list(train), "test": list(test)}

    # speakers
    spk = {s: [res.speaker(e) for e in es] for s, es in sides.items()}
    unknown = {s: sum(1 for v in vs if not v) for s, vs in spk.items()}
    if any(unknown.values()):
        findings.append(Finding("warning", "speaker_unknown",
                                f"no speaker for {unknown['train']} train / {unknown['test']} test entries: give a "
                                "'speaker' field (or a corpus with a naming rule); speaker overlap is checked on the rest",
                                unknown))
    tr_spk, te_spk = {v for v in spk["train"] if v}, {v for v in spk["test"] if v}
    both = sorted(tr_spk & te_spk)
    seen = sum(1 for v in spk["test"] if v and v in tr_spk)
    share = seen / len(test)
    stats = {"entries": {s: len(es) for s, es in sides.items()},
             "speakers": {"train": sorted(tr_spk), "test": sorted(te_spk)},
             "speaker_overlap": both, "test_seen_speaker_share": round(share, 4)}
    if both:
        findings.append(Finding("error", "speaker_overlap",
                                f"{len(both)} speaker(s) in both train and test ({', '.join(both[:12])}"
                                f"{' ...' if len(both) > 12 else ''}); {100 * share:.0f}% of the test clips are by "
                                "speakers seen in training: scores on this split are speaker-DEPENDENT",
                                {"speakers": both, "test_seen_share": share}))
    else:
        findings.append(Finding("info", "speaker_overlap",
                                f"train ({len(tr_spk)} speakers) and test ({len(te_spk)} speakers) are speaker-disjoint"))

    # duplicates
    for s, es in sides.items():
        c = collections.Counter(e.key for e in es)
        rep = sorted(k for k, n in c.items() if n > 1)
        if rep:
            findings.append(Finding("warning", "duplicate_key", f"{len(rep)} key(s) listed twice in {s}: {rep[:5]}",
                                    {"side": s, "keys": rep}))
    cross = sorted({e.key for e in train} & {e.key for e in test})
    if cross:
        findings.append(Finding("error", "duplicate_key", f"{len(cross)} key(s) in both train and test: {cross[:5]}",
                                {"keys": cross}))
    for what, fn in (("wav path", lambda e: e.wav), ("media content", res.media_hash)):
        vals = {s: [(fn(e), e.key) for e in es] for s, es in sides.items()}
        d_all = _dups(vals["train"] + vals["test"])
        tr_keys, te_keys = {e.key for e in train}, {e.key for e in test}
        across = {v: ks for v, ks in d_all.items() if set(ks) & tr_keys and set(ks) & te_keys}
        within = {v: ks for v, ks in d_all.items() if v not in across}
        if across:
            findings.append(Finding("error", "duplicate_media",
                                    f"{len(across)} {what}(s) shared by train and test keys, e.g. "
                                    f"{next(iter(across.values()))}", {"what": what, "groups": list(across.values())}))
        if within:
            findings.append(Finding("warning", "duplicate_media",
                                    f"{len(within)} {what}(s) under several keys on one side, e.g. "
                                    f"{next(iter(within.values()))}", {"what": what, "groups": list(within.values())}))

    # classes
    counts = {s: collections.Counter(e.emo.lower() for e in es) for s, es in sides.items()}
    classes = sorted(set(counts["train"]) | set(counts["test"]))
    stats["class_counts"] = {s: {k: counts[s].get(k, 0) for k in classes} for s in sides}
    only_tr = [k for k in classes if not counts["test"].get(k)]
    only_te = [k for k in classes if not counts["train"].get(k)]
    if only_te:
        findings.append(Finding("error", "class_missing", f"class(es) {only_te} in test but never in train",
                                {"classes": only_te}))
    if only_tr:
        findings.append(Finding("warning", "class_missing", f"class(es) {only_tr} in train but not in test "
                                "(UA averages over the test classes only)", {"classes": only_tr}))
    total = collections.Counter(counts["train"]) + collections.Counter(counts["test"])
    ratio = max(total.values()) / max(1, min(total.values()))
    stats["imbalance_ratio"] = round(ratio, 3)
    n_tr, n_te = sum(counts["train"].values()), sum(counts["test"].values())
    tv = 0.5 * sum(abs(counts["train"].get(k, 0) / n_tr - counts["test"].get(k, 0) / n_te) for k in classes)
    stats["class_shift_tv"] = round(tv, 4)
    if ratio > imbalance_ratio:
        findings.append(Finding("warning", "class_imbalance", f"largest/smallest class = {ratio:.2f} (> {imbalance_ratio}); "
                                "report UA (balanced) beside WA", {"ratio": ratio}))
    else:
        findings.append(Finding("info", "class_imbalance", f"largest/smallest class = {ratio:.2f}", {"ratio": ratio}))
    if tv > max_shift:
        findings.append(Finding("warning", "class_shift", f"train and test class distributions differ by total "
                                f"variation {tv:.3f} (> {max_shift})", {"tv": tv}))

    # content (sentences)
    cont = {s: [res.content(e) for e in es] for s, es in sides.items()}
    if any(cont["test"]):
        tr_c = {c for c in cont["train"] if c}
        te_c = {c for c in cont["test"] if c}
        shared = sorted(tr_c & te_c)
        n = sum(1 for c in cont["test"] if c and c in tr_c)
        stats["content_overlap"] = {"shared": shared, "test_share": round(n / len(test), 4),
                                    "test_contents": len(te_c)}
        if shared:
            findings.append(Finding("info", "content_overlap",
                                    f"{len(shared)} of the {len(te_c)} sentences of the test side are also spoken in "
                                    f"training ({100 * n / len(test):.0f}% of test clips)", stats["content_overlap"]))
    return AuditReport(name, findings, stats)


def audit_folds(folds: Sequence[tuple[Sequence[EmoBoxEntry], Sequence[EmoBoxEntry]]], *, name: str = "folds",
                corpus: str = "", manifest: Manifest | None = None, hash_media: bool = False,
                all_entries: Sequence[EmoBoxEntry] | None = None, **kw) -> tuple[list[AuditReport], AuditReport]:
    """Audit each fold, then the set: coverage (each clip tested exactly once) and train + test = all."""
    res = _Resolver(corpus, manifest, hash_media)
    reports = [audit_partition(tr, te, name=f"{name} fold {i + 1}", corpus=corpus, _resolver=res, **kw)
               for i, (tr, te) in enumerate(folds)]
    findings = []
    tested = collections.Counter(e.key for _, te in folds for e in te)
    universe = {e.key for e in all_entries} if all_entries is not None else \
        {e.key for tr, te in folds for e in list(tr) + list(te)}
    twice = sorted(k for k, n in tested.items() if n > 1)
    never = sorted(universe - set(tested))
    partial = [i + 1 for i, (tr, te) in enumerate(folds) if {e.key for e in tr} | {e.key for e in te} != universe]
    if twice:
        findings.append(Finding("error", "fold_coverage", f"{len(twice)} clip(s) in more than one test fold", {"keys": twice}))
    if never:
        findings.append(Finding("error", "fold_coverage", f"{len(never)} clip(s) in no test fold", {"keys": never}))
    if partial:
        findings.append(Finding("error", "fold_coverage", f"fold(s) {partial}: train + test is not the whole corpus",
                                {"folds": partial}))
    if not (twice or never or partial):
        findings.append(Finding("info", "fold_coverage",
                                f"every one of the {len(universe)} clips is tested exactly once over {len(folds)} folds, "
                                "and each fold's train + test is the whole corpus"))
    spk_sets = [set(r.stats["speakers"]["test"]) for r in reports]
    stats = {"folds": len(folds), "clips": len(universe), "test_speakers_per_fold": [sorted(s) for s in spk_sets],
             "folds_with_speaker_overlap": [i + 1 for i, r in enumerate(reports) if r.stats["speaker_overlap"]]}
    for r in reports:
        for f in r.findings:
            if f.level != "info":
                findings.append(Finding(f.level, f.check, f"{r.name}: {f.message}", f.details))
    return reports, AuditReport(f"{name} (all folds)", findings, stats)


def audit_emobox(corpus: str, *, root: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                 hash_media: bool = True, manifest: Manifest | None = None) -> dict:
    """Audit every EmoBox fold of ``corpus``; media hashed from our copy of the corpus when it is there.

    Returns ``{"folds": [report json], "set": report json, "summary": {...}, "text": str}``; the summary
    holds short strings for the results table.
    """
    from emozoo.data.emobox import emobox_root, partition_files
    base = Path(root) if root is not None else emobox_root(data_dir)
    if manifest is None:
        try:
            from emozoo.data.corpora import load_manifest
            manifest = load_manifest(corpus, data_dir=data_dir)
        except Exception:   # noqa: BLE001 - the audit works from the partition files alone
            manifest = None
    folds = [(read_partition(tr), read_partition(te)) for _, tr, te in partition_files(corpus, base)]
    everything = base / corpus / f"{corpus}.jsonl"
    all_entries = read_partition(everything) if everything.is_file() else None
    reports, total = audit_folds(folds, name=f"EmoBox {corpus}", corpus=corpus, manifest=manifest,
                                 hash_media=hash_media and manifest is not None, all_entries=all_entries)
    n_spk = len(set().union(*(set(r.stats["speakers"]["train"]) | set(r.stats["speakers"]["test"]) for r in reports)))
    over = [len(r.stats["speaker_overlap"]) for r in reports]
    shares = [r.stats["test_seen_speaker_share"] for r in reports]
    dup = [f for r in reports for f in r.findings if f.check.startswith("duplicate") and f.level != "info"]
    cov = [f for f in total.findings if f.check == "fold_coverage" and f.level == "error"]
    cont = [r.stats.get("content_overlap", {}) for r in reports]
    def span(vals, fmt=lambda v: f"{100 * v:.0f}%"):
        lo, hi = min(vals), max(vals)
        return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}-{fmt(hi)}"

    groups = {}
    for f in dup:
        for g in f.details.get("groups", []):
            groups[tuple(g)] = f.details.get("what", "")
    summary = {
        "folds": len(reports),
        "speaker_overlap": (f"none ({n_spk} speakers, disjoint in every fold)" if not any(over) else
                            f"{span(over, str)} of {n_spk} speakers in every fold" if all(over) else
                            f"in folds {total.stats['folds_with_speaker_overlap']}"),
        "test_seen_speaker_share": span(shares),
        "duplicates": ("none (keys, paths" + (", file contents" if manifest is not None and hash_media else "") + ")")
        if not dup else "; ".join(f"{' = '.join(g)} ({w}, identical)" for g, w in groups.items())
        + f" (in {len(dup)} fold(s))",
        "coverage": "each clip tested once" if not cov else "; ".join(f.message for f in cov),
        "content_overlap": (span([c.get("test_share", 0) for c in cont]) + " of test clips' sentences also "
                            "spoken in train") if cont and cont[0] else "-",
        "imbalance": f"{reports[0].stats['imbalance_ratio']:.2f}",
        "media_hashed": bool(manifest is not None and hash_media),
    }
    text = "\n".join([total.format()] + [r.format() for r in reports])
    return {"corpus": corpus, "folds": [r.to_json() for r in reports], "set": total.to_json(), "summary": summary,
            "text": text}
