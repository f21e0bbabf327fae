"""The one definition of the cross-culture target split (Liang et al. 2019, sec. 4.2, Table 3).

``transductive`` decides which target-culture (B) examples the culture classifier C sees as
unlabelled data and which are tested:

* ``True`` (the default, the paper's setting): C sees all of B unlabelled (labels withheld) and
  all of B is tested; no label of B is used at any point. One fold.
* ``False``: B's speakers are shuffled with ``seed`` and split into two halves; C sees one half
  unlabelled, the other half is tested, and the halves swap (two folds). No tested example is
  ever seen, even unlabelled.

There is no third meaning ("no target data at all" is the BSL network, ``mode="bsl"``, not a
value of ``transductive``). Both the table pipeline (:func:`emozoo.models.adv_culture.
adv_culture_task.make_culture_folds`) and any other driver of the cross-culture setting must
call :func:`target_splits` rather than re-implement the rule.

Example::

    from emozoo.data.manifest import Manifest
    for suffix, unlabelled, test in target_splits(target_manifest, transductive=False, seed=0):
        ...
"""
from __future__ import annotations

import random

from emozoo.errors import SplitError

TRANSDUCTIVE_DEFAULT = True


def target_splits(target, *, transductive: bool = TRANSDUCTIVE_DEFAULT, seed: int = 0):
    """``[(suffix, unlabelled, test), ...]`` manifests of the target culture.

    Args:
        target: :class:`emozoo.data.manifest.Manifest` of the target culture B.
        transductive: see the module docstring (``True``: one fold, unlabelled = test = all of B;
            ``False``: two folds over speaker halves).
        seed: shuffles B's speakers before the halves are cut (``transductive=False`` only).
    """
    if not isinstance(transductive, bool):
        raise SplitError(f"transductive must be true or false, got {transductive!r}")
    if transductive:
        return [("", target, target)]
    spk = sorted(target.speakers())
    if len(spk) < 2:
        raise SplitError(f"transductive=false splits the target's speakers in halves; {target.name or 'the target'} "
                         f"has {len(spk)} speaker(s)")
    random.Random(seed).shuffle(spk)
    halves = [set(spk[0::2]), set(spk[1::2])]
    out = []
    for i in range(2):
        unl = target.filter(lambda r, h=halves[i]: r.speaker in h)
        tst = target.filter(lambda r, h=halves[1 - i]: r.speaker in h)
        out.append((f"/half{i}", unl, tst))
    return out
