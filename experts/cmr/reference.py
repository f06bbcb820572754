"""Cited thresholds and reference ranges -- only numbers we could check.

Why so few: a reference range is only as good as its citation, and the
project forbids numbers we are not sure of. Each entry names the
publication, year and the part of it that states the value.

- LVEF and indexed LV mass: Petersen SE, Aung N, Sanghvi MM, et al.
  "Reference ranges for cardiac structure and function using
  cardiovascular magnetic resonance (CMR) in Caucasians from the UK Biobank
  population cohort", J Cardiovasc Magn Reson 2017;19:18. The abstract
  reports sex-specific mean +/- SD: LVEF women 61 +/- 5 %, men 58 +/- 5 %;
  LV mass indexed to BSA men 53 +/- 9 g/m2, women 42 +/- 7 g/m2 (1.5 T
  bSSFP, papillary muscles counted in the blood pool, as our segmentation
  does). We take limits as mean +/- 1.96 SD of those figures and say so.
- LVEF categories: 2021 ESC Guidelines for the diagnosis and treatment of
  acute and chronic heart failure (McDonagh TA et al., Eur Heart J 2021),
  section "Definition of heart failure", Table 3: HFrEF LVEF <= 40 %,
  HFmrEF 41-49 %, HFpEF >= 50 %.
No verified sex-specific ranges are carried for EDV/ESV (absolute or
indexed) or RV parameters; those measurements are reported without a
range or flag rather than with an unchecked one. Session 3 (README)
looked again: those figures are in Petersen 2017 Tables 2-5 and Kawel-Boehm
et al. JCMR 2020;22:87, which we could not read, and the secondary
transcriptions we found disagree, so they are still left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from experts.core.types import GuidelineRef, ReferenceRange

PETERSEN_2017 = GuidelineRef(
    guideline=(
        "Petersen SE et al. Reference ranges for cardiac structure and function using CMR in Caucasians "
        "from the UK Biobank population cohort. J Cardiovasc Magn Reson 19:18"
    ),
    year=2017,
    section="Abstract, Results (sex-specific mean ± SD); limits taken as mean ± 1.96 SD",
)
ESC_HF_2021 = GuidelineRef(
    guideline="2021 ESC Guidelines for the diagnosis and treatment of acute and chronic heart failure",
    year=2021,
    section="Definition of heart failure (Table 3: HFrEF, HFmrEF, HFpEF)",
)

Z95 = 1.96


@dataclass(frozen=True)
class MeanSD:
    mean: float
    sd: float

    @property
    def low(self) -> float:
        return round(self.mean - Z95 * self.sd, 1)

    @property
    def high(self) -> float:
        return round(self.mean + Z95 * self.sd, 1)


_PETERSEN: dict[str, dict[str, MeanSD]] = {
    "lvef": {"female": MeanSD(61, 5), "male": MeanSD(58, 5)},
    "lv_mass_index": {"female": MeanSD(42, 7), "male": MeanSD(53, 9)},
}
_UNITS = {"lvef": "%", "lv_mass_index": "g/m2"}
_POPULATION = {"female": "healthy Caucasian women 45-74 y (UK Biobank)", "male": "healthy Caucasian men 45-74 y (UK Biobank)"}

HFREF_LVEF_MAX = 40.0  # LVEF <= 40 %
HFPEF_LVEF_MIN = 50.0  # LVEF >= 50 %; 41-49 % is mildly reduced


def reference_range(name: str, sex: str | None) -> ReferenceRange | None:
    """Sex-specific range for a measurement name, or None."""
    if sex not in ("female", "male") or name not in _PETERSEN:
        return None
    ms = _PETERSEN[name][sex]
    return ReferenceRange(low=ms.low, high=ms.high, unit=_UNITS[name], population=_POPULATION[sex], source=PETERSEN_2017)
