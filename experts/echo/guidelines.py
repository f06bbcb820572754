"""Guideline thresholds the echo expert applies, with their citations.

Why one module: a threshold and its citation must travel together, and a
reviewer should be able to check every number the tool compares against in
one place. Sections are cited by title (not number) where we could not
verify the numbering.

* 2021 ESC Guidelines for the diagnosis and treatment of acute and chronic
  heart failure (McDonagh TA et al., Eur Heart J 2021;42:3599-3726):
  HF with reduced EF: LVEF <= 40%; mildly reduced: 41-49%; preserved: >= 50%.
  (These classify LVEF; a heart-failure diagnosis also needs symptoms and
  signs, which an echo clip cannot supply.)
* ASE/EACVI 2015 chamber quantification (Lang RM et al., J Am Soc
  Echocardiogr 2015;28:1-39): normal 2D LVEF 52-72% (men), 54-74% (women);
  LV end-diastolic volume 62-150 mL (men), 46-106 mL (women); end-systolic
  21-61 mL (men), 14-42 mL (women); indexed EDV 34-74 / 29-61 mL/m2 and ESV
  11-31 / 8-24 mL/m2 (men / women). Those limits are for the biplane method
  of discs; we measure single-plane apical views, which the criteria note.
"""

from __future__ import annotations

from experts.core.types import GuidelineRef, ReferenceRange

ESC_HF_2021 = GuidelineRef(
    guideline="ESC Guidelines for the diagnosis and treatment of acute and chronic heart failure",
    year=2021,
    section="Definition of heart failure with reduced (LVEF <=40%), mildly reduced (41-49%) and preserved (>=50%) ejection fraction",
)

ASE_EACVI_2015_LVEF = GuidelineRef(
    guideline="ASE/EACVI Recommendations for Cardiac Chamber Quantification by Echocardiography in Adults",
    year=2015,
    section="Left ventricle: global systolic function (normal ranges of 2D LVEF by sex)",
)

ASE_EACVI_2015_LV_SIZE = GuidelineRef(
    guideline="ASE/EACVI Recommendations for Cardiac Chamber Quantification by Echocardiography in Adults",
    year=2015,
    section="Left ventricle: LV size (normal ranges of 2D LV volumes by sex, biplane method of discs)",
)

HFREF_MAX = 40.0  # LVEF <= 40 %
HFPEF_MIN = 50.0  # LVEF >= 50 %

LVEF_NORMAL = {"male": (52.0, 72.0), "female": (54.0, 74.0)}
EDV_NORMAL = {"male": (62.0, 150.0), "female": (46.0, 106.0)}
ESV_NORMAL = {"male": (21.0, 61.0), "female": (14.0, 42.0)}
EDV_INDEX_NORMAL = {"male": (34.0, 74.0), "female": (29.0, 61.0)}
ESV_INDEX_NORMAL = {"male": (11.0, 31.0), "female": (8.0, 24.0)}


def reference_range(table: dict[str, tuple[float, float]], sex: str | None, unit: str, ref: GuidelineRef) -> ReferenceRange | None:
    if sex not in table:
        return None
    lo, hi = table[sex]
    return ReferenceRange(low=lo, high=hi, unit=unit, population=f"adult {'men' if sex == 'male' else 'women'}", source=ref)
