"""Keep one chamber, the same one in every frame.

Why: a segmenter that confuses the RV with the LV in some frames produces
an area curve that jumps between chambers, and its "beats" are artefacts
(we saw exactly this on pydicom's real apical clip with an early model).
We therefore:

1. average the probabilities over time (a chamber the network finds in
   most frames stands out; one-frame blobs fade);
2. take the connected regions of that average as candidates; if the two
   largest carry comparable probability mass, choose the one on the LV's
   side of the image (`lv_side`, standard apical orientation = right, as
   in ASE's recommended display and EchoNet's training videos) and report
   that a choice was made;
3. in every frame keep only the component overlapping the chosen region.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CONSENSUS_LEVEL = 0.25
COMPARABLE_MASS = 0.5


def keep_one_chamber(prob: np.ndarray, lv_side: str = "right") -> tuple[np.ndarray, list[str]]:
    notes: list[str] = []
    if prob.shape[0] == 0:
        return prob, notes
    consensus = prob.mean(axis=0)
    lab, n = ndimage.label(consensus >= CONSENSUS_LEVEL)
    if n == 0:
        return prob, notes
    idx = np.arange(1, n + 1)
    mass = np.asarray(ndimage.sum(consensus, lab, idx))
    order = np.argsort(mass)[::-1]
    chosen = int(order[0])
    if n > 1 and mass[order[1]] >= COMPARABLE_MASS * mass[order[0]]:
        pair = [int(order[0]), int(order[1])]
        cols = [ndimage.center_of_mass(consensus, lab, k + 1)[1] for k in pair]
        chosen = pair[int(np.argmax(cols))] if lv_side == "right" else pair[int(np.argmin(cols))]
        notes.append(
            f"two chamber-sized regions were segmented; the one on the image {lv_side} was taken as the LV "
            f"(apical view displayed with the LV on the {lv_side})"
        )
    region = lab == chosen + 1
    out = prob.copy()
    masks = prob >= 0.5
    dropped = 0
    for t in range(prob.shape[0]):
        lt, k = ndimage.label(masks[t])
        if k == 0:
            continue
        overlap = np.asarray(ndimage.sum(region, lt, np.arange(1, k + 1)))
        if overlap.max() <= 0:
            out[t] = 0.0
            dropped += 1
            continue
        keep = lt == int(np.argmax(overlap)) + 1
        out[t] *= ndimage.binary_dilation(keep, iterations=2)
    if dropped:
        notes.append(f"in {dropped} frame(s) the segmented region did not overlap the LV found in the rest of the clip and was discarded")
    return out.astype(np.float32), notes
