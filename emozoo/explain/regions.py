"""Where the model looks: share of saliency mass in the eye and mouth regions (the paper's future work).

Yousefi et al. (Section 5): "instead of qualitatively examining the saliency maps, we plan to
measure the proximity of high gradients to facial landmarks". Here, per image:

* regions from the five MTCNN landmarks (in crop pixels, :func:`emozoo.features.face.landmarks_in_crop`),
  scaled by the inter-ocular distance ``d = |right_eye - left_eye|``:

  - **eyes** (eyes and brows): x from ``min(eye x) - 0.45 d`` to ``max(eye x) + 0.45 d``,
    y from ``mean(eye y) - 0.5 d`` to ``mean(eye y) + 0.25 d``;
  - **mouth**: x from ``mouth_left x - 0.3 d`` to ``mouth_right x + 0.3 d``,
    y from ``mean(mouth y) - 0.3 d`` to ``mean(mouth y) + 0.35 d``;

* ``share_R = sum_{p in R} |S(p)| / sum_p |S(p)|`` (:func:`region_shares`), and the eye
  preference ``share_eyes / (share_eyes + share_mouth)``;
* between cultures, per class and overall: two-sided Mann-Whitney U test of the shares
  (:func:`compare_groups`, SciPy), with the medians and the rank-biserial effect size.
"""
from __future__ import annotations

import numpy as np

from emozoo.errors import SchemaError

REGIONS = ("eyes", "mouth")


def region_masks(landmarks, size: int = 48) -> dict:
    """Boolean ``[size, size]`` masks ``{"eyes", "mouth"}`` from landmarks ``[5, 2]`` (x, y) in crop
    pixels, order left_eye, right_eye, nose, mouth_left, mouth_right. ``None`` if any is NaN."""
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (5, 2):
        raise SchemaError(f"landmarks must be [5, 2] (left_eye, right_eye, nose, mouth_left, mouth_right), got {lm.shape}")
    if not np.isfinite(lm).all():
        return None
    le, re, _, ml, mr = lm
    d = float(np.hypot(*(re - le)))
    if d < 1e-3:
        return None
    yy, xx = np.mgrid[0:size, 0:size] + 0.5

    def box(x0, x1, y0, y1):
        return (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)

    ey = (le[1] + re[1]) / 2.0
    my = (ml[1] + mr[1]) / 2.0
    eyes = box(min(le[0], re[0]) - 0.45 * d, max(le[0], re[0]) + 0.45 * d, ey - 0.5 * d, ey + 0.25 * d)
    mouth = box(min(ml[0], mr[0]) - 0.3 * d, max(ml[0], mr[0]) + 0.3 * d, my - 0.3 * d, my + 0.35 * d)
    return {"eyes": eyes, "mouth": mouth & ~eyes}


def region_shares(saliency, landmarks) -> np.ndarray:
    """``[N, 2]`` shares of ``|saliency|`` mass in (eyes, mouth) per image; NaN rows where the
    landmarks are missing. ``saliency [N, H, W]``, ``landmarks [N, 5, 2]``."""
    s = np.abs(np.asarray(saliency, np.float64))
    lm = np.asarray(landmarks, np.float64)
    if s.ndim != 3 or s.shape[1] != s.shape[2] or lm.shape != (s.shape[0], 5, 2):
        raise SchemaError(f"need saliency [N, S, S] and landmarks [N, 5, 2]; got {s.shape} and {lm.shape}")
    out = np.full((s.shape[0], len(REGIONS)), np.nan)
    for i in range(s.shape[0]):
        masks = region_masks(lm[i], s.shape[1])
        total = s[i].sum()
        if masks is None or total <= 0:
            continue
        out[i] = [s[i][masks[r]].sum() / total for r in REGIONS]
    return out


def eye_preference(shares) -> np.ndarray:
    """``eyes / (eyes + mouth)`` per image (NaN where undefined)."""
    sh = np.asarray(shares, np.float64)
    tot = sh[:, 0] + sh[:, 1]
    return np.where(tot > 0, sh[:, 0] / np.where(tot > 0, tot, 1.0), np.nan)


def compare_groups(a, b) -> dict:
    """Two-sided Mann-Whitney U test of samples ``a`` vs ``b`` (NaN dropped).

    Returns ``n_a, n_b, median_a, median_b, mean_a, mean_b, U, p``, and the rank-biserial
    correlation ``r = 2U / (n_a n_b) - 1`` (positive: ``a`` tends to be larger).
    """
    from scipy.stats import mannwhitneyu

    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    res = {"n_a": int(a.size), "n_b": int(b.size)}
    if a.size < 2 or b.size < 2:
        return {**res, "U": None, "p": None, "r": None, "median_a": None, "median_b": None,
                "mean_a": None, "mean_b": None}
    u, p = mannwhitneyu(a, b, alternative="two-sided")
    return {**res, "U": float(u), "p": float(p), "r": float(2.0 * u / (a.size * b.size) - 1.0),
            "median_a": float(np.median(a)), "median_b": float(np.median(b)),
            "mean_a": float(a.mean()), "mean_b": float(b.mean())}
