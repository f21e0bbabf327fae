"""Deterministic, seedable split generators (evaluation protocols).

Every generator returns :class:`Split` objects. Speaker-independent protocols
key speakers by ``(corpus, speaker)`` so two corpora's "03" never merge, and
every split they return passes :func:`check_speaker_disjoint`.

==================  =========================================================
protocol            what it returns
==================  =========================================================
loso                leave-one-speaker-out: one split per speaker (seed 000/001)
loso_session        leave-one-session-out (IEMOCAP: ``extras["session"]``)
iemocap_ts          TS_1234, TS_123, TS_134, TS_234, TS_23 (seed 001): train on
                    the listed sessions, test on session 5, the remaining
                    sessions as unlabelled data
speaker_kfold       k folds of disjoint speaker groups (mono-culture)
cross_corpus        train on corpus A, test on corpus B (B's speakers unseen)
multi_corpus        train on A+B+..., test on held-out speakers of each
official            the corpus's official train/valid/test (FER2013, MELD, IEMOCAP text)
subject_random      k random subject-disjoint train/valid/test allocations (seed 004)
==================  =========================================================
"""
from __future__ import annotations

import dataclasses
import random
from typing import Iterable, Sequence

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.errors import SplitError


@dataclasses.dataclass
class Split:
    """One train/test partition of a protocol.

    Attributes:
        name: e.g. ``loso/emodb/03`` or ``ts_123``.
        train: labelled training rows.
        test: test rows (labels used only for scoring).
        valid: model-selection rows (may be empty).
        unlabelled: rows whose labels the method must not use (target culture,
            remaining IEMOCAP sessions, AMI ...).
    """

    name: str
    train: Manifest
    test: Manifest
    valid: Manifest = dataclasses.field(default_factory=lambda: Manifest([]))
    unlabelled: Manifest = dataclasses.field(default_factory=lambda: Manifest([]))

    def sizes(self) -> dict:
        return {k: len(getattr(self, k)) for k in ("train", "valid", "test", "unlabelled")}

    def to_manifest(self) -> Manifest:
        """One manifest whose ``split`` column names each row's part (train/valid/test/unlabelled).

        Write it with ``python -m emozoo.data write`` (one store split per part)
        or save it as CSV; unlabelled rows lose their emotion, so no later step
        can use it by mistake.
        """
        rows = []
        for part in ("train", "valid", "test", "unlabelled"):
            for r in getattr(self, part):
                changes = {"split": part}
                if part == "unlabelled":
                    changes["emotion"] = ""
                rows.append(dataclasses.replace(r, **changes))
        return Manifest(rows, name=f"{self.train.name or 'split'}:{self.name}")


def speaker_key(row: ManifestRow) -> tuple:
    if not row.speaker:
        raise SplitError(f"clip {row.corpus}/{row.clip_id} has no speaker id: a speaker-independent "
                         "protocol needs one for every clip")
    return (row.corpus, row.speaker)


def check_speaker_disjoint(split: Split) -> Split:
    """Raise :class:`SplitError` when any speaker appears on two sides of ``split``."""
    sides = {k: {speaker_key(r) for r in getattr(split, k)} for k in ("train", "valid", "test")}
    for a, b in (("train", "test"), ("train", "valid"), ("valid", "test")):
        both = sides[a] & sides[b]
        if both:
            raise SplitError(f"split {split.name}: speaker(s) {sorted(both)[:5]} in both {a} and {b}")
    return split


def _by_speaker(m: Manifest, keys: Iterable[tuple]) -> Manifest:
    keys = set(keys)
    return m.filter(lambda r: speaker_key(r) in keys)


def _speakers(m: Manifest) -> list[tuple]:
    return sorted({speaker_key(r) for r in m})


def _pick(seq: Sequence, k: int, rng: random.Random) -> list:
    seq = list(seq)
    rng.shuffle(seq)
    return seq[:k]


def leave_one_speaker_out(m: Manifest, *, valid_speakers: int = 0, seed: int = 0) -> list[Split]:
    """One split per speaker: test on that speaker, train on the rest.

    Args:
        valid_speakers: how many of the remaining speakers (drawn with ``seed``)
            form the validation set for model selection.
    """
    speakers = _speakers(m)
    if len(speakers) < 2 + valid_speakers:
        raise SplitError(f"leave-one-speaker-out needs >= {2 + valid_speakers} speakers, {m.name} has {len(speakers)}")
    splits = []
    for i, spk in enumerate(speakers):
        rest = [s for s in speakers if s != spk]
        valid = _pick(rest, valid_speakers, random.Random(seed * 1000 + i))
        train = [s for s in rest if s not in valid]
        splits.append(check_speaker_disjoint(Split(
            f"loso/{spk[0]}/{spk[1]}", _by_speaker(m, train), _by_speaker(m, [spk]), _by_speaker(m, valid))))
    return splits


def speaker_kfold(m: Manifest, k: int = 5, *, seed: int = 0, valid_speakers: int = 0) -> list[Split]:
    """k folds of disjoint speaker groups (shuffled with ``seed``); each group is the test set once."""
    speakers = _speakers(m)
    if not 2 <= k <= len(speakers):
        raise SplitError(f"speaker_kfold: k={k} must be in [2, {len(speakers)}] for {m.name}")
    order = _pick(speakers, len(speakers), random.Random(seed))
    groups = [order[i::k] for i in range(k)]
    splits = []
    for i, test in enumerate(groups):
        rest = [s for s in speakers if s not in test]
        valid = _pick(rest, valid_speakers, random.Random(seed * 1000 + i))
        train = [s for s in rest if s not in valid]
        splits.append(check_speaker_disjoint(Split(
            f"kfold{k}/{i}", _by_speaker(m, train), _by_speaker(m, test), _by_speaker(m, valid))))
    return splits


def _session(r: ManifestRow) -> int:
    try:
        return int(r.extras["session"])
    except (KeyError, ValueError, TypeError):
        raise SplitError(f"clip {r.clip_id} has no extras['session']; leave-one-session-out needs it") from None


def leave_one_session_out(m: Manifest) -> list[Split]:
    """One split per session (IEMOCAP): test on that session, train on the others."""
    sessions = sorted({_session(r) for r in m})
    if len(sessions) < 2:
        raise SplitError(f"{m.name}: leave-one-session-out needs >= 2 sessions, found {sessions}")
    return [check_speaker_disjoint(Split(f"loso_session/{s}", m.filter(lambda r, s=s: _session(r) != s),
                                         m.filter(lambda r, s=s: _session(r) == s))) for s in sessions]


IEMOCAP_TS = {"TS_1234": (1, 2, 3, 4), "TS_123": (1, 2, 3), "TS_134": (1, 3, 4),
              "TS_234": (2, 3, 4), "TS_23": (2, 3)}


def iemocap_ts(m: Manifest, setting: str = "TS_1234", *, test_session: int = 5) -> Split:
    """Seed 001's settings: train on the listed sessions, test on session 5, the rest unlabelled.

    Turns whose emotion is outside the label set (already mapped to "") stay in
    ``unlabelled`` when they belong to training sessions, so conversational
    models can keep them as context; ``test`` keeps every session-5 turn.
    """
    key = setting.upper()
    if key not in IEMOCAP_TS:
        raise SplitError(f"unknown IEMOCAP setting {setting!r}; known {sorted(IEMOCAP_TS)}")
    train_sessions = set(IEMOCAP_TS[key])
    train = m.filter(lambda r: _session(r) in train_sessions)
    test = m.filter(lambda r: _session(r) == test_session)
    unlabelled = m.filter(lambda r: _session(r) not in train_sessions and _session(r) != test_session)
    if not len(train) or not len(test):
        raise SplitError(f"{key}: empty train ({len(train)}) or test ({len(test)}) side")
    return check_speaker_disjoint(Split(key.lower(), train, test, Manifest([]), unlabelled))


def cross_corpus(source: Manifest, target: Manifest, *, valid_speakers: int = 0, seed: int = 0,
                 unlabelled_target: bool = True) -> Split:
    """Train on ``source``, test on ``target``; the target is also given as unlabelled data
    (its labels withheld), as the cross-culture adversarial setting uses it."""
    src_spk = _speakers(source)
    valid = _pick(src_spk, valid_speakers, random.Random(seed))
    train = _by_speaker(source, [s for s in src_spk if s not in valid])
    unl = target.filter(lambda r: True) if unlabelled_target else Manifest([])
    name = f"cross/{source.name or 'a'}->{target.name or 'b'}"
    return check_speaker_disjoint(Split(name, train, target, _by_speaker(source, valid), unl))


def multi_corpus(manifests: Sequence[Manifest], *, k: int = 5, seed: int = 0) -> list[Split]:
    """Train on all corpora at once, test on held-out speakers of each (k speaker folds per corpus).

    Fold i tests on the i-th speaker group of every corpus and trains on the
    other speakers of all corpora; evaluation slices ``test`` by corpus.
    """
    per = [speaker_kfold(m, min(k, len(_speakers(m))), seed=seed) for m in manifests]
    n = min(len(p) for p in per)
    splits = []
    for i in range(n):
        train = Manifest([r for p in per for r in p[i].train])
        test = Manifest([r for p in per for r in p[i].test])
        splits.append(check_speaker_disjoint(Split(f"multi/{i}", train, test)))
    return splits


def official(m: Manifest) -> Split:
    """The corpus's official split (rows' ``split`` column: train / valid / test)."""
    sides = {s: m.where(split=s) for s in ("train", "valid", "test")}
    if not len(sides["train"]) or not len(sides["test"]):
        raise SplitError(f"{m.name} has no official train/test split (split column: {dict(m.counts('split'))})")
    return Split(f"official/{m.name}", sides["train"], sides["test"], sides["valid"])


def subject_random(m: Manifest, n_splits: int = 5, *, fractions=(0.7, 0.15, 0.15), seed: int = 0) -> list[Split]:
    """``n_splits`` random subject-disjoint train/valid/test allocations (seed 004 uses 5)."""
    if abs(sum(fractions) - 1.0) > 1e-6 or len(fractions) != 3:
        raise SplitError(f"fractions must be three numbers summing to 1, got {fractions}")
    subjects = _speakers(m)
    if len(subjects) < 3:
        raise SplitError(f"{m.name}: subject_random needs >= 3 subjects, has {len(subjects)}")
    splits = []
    for i in range(n_splits):
        order = _pick(subjects, len(subjects), random.Random(seed * 1000 + i))
        n_test = max(1, round(fractions[2] * len(order)))
        n_valid = max(1, round(fractions[1] * len(order))) if fractions[1] > 0 else 0
        test, valid, train = order[:n_test], order[n_test:n_test + n_valid], order[n_test + n_valid:]
        if not train:
            raise SplitError(f"{m.name}: no subjects left for training with fractions {fractions}")
        splits.append(check_speaker_disjoint(Split(
            f"subject_random/{i}", _by_speaker(m, train), _by_speaker(m, test), _by_speaker(m, valid))))
    return splits


def generate(protocol: str, manifest: Manifest, **kwargs) -> list[Split]:
    """Resolve a protocol by name (``loso``, ``speaker_kfold``, ``official``, ``ts_123`` ...)."""
    p = protocol.lower()
    if p == "loso":
        return leave_one_speaker_out(manifest, **kwargs)
    if p == "loso_session":
        return leave_one_session_out(manifest)
    if p.upper() in IEMOCAP_TS:
        return [iemocap_ts(manifest, p, **kwargs)]
    if p in ("speaker_kfold", "mono_culture"):
        return speaker_kfold(manifest, **kwargs)
    if p == "official":
        return [official(manifest)]
    if p == "subject_random":
        return subject_random(manifest, **kwargs)
    raise SplitError(f"unknown protocol {protocol!r}; known: loso, loso_session, {', '.join(k.lower() for k in IEMOCAP_TS)}, "
                     "speaker_kfold, official, subject_random (cross_corpus/multi_corpus take several corpora)")
