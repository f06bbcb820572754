"""Numeric-range matching: does a query's value fall in a statement's range?

Why: clinicians and the agent ask with numbers ("QRS 138 ms with LBBB",
"LVEF 33%", "QTc 485"), while guideline statements state ranges and
thresholds ("a QRS of 130–149 ms", "LVEF of 35% or less", "prolonged from
450 ms"). Neither BM25 nor MiniLM compares numbers: "138" is just a rare
token that no statement contains, so the statement whose range holds the
value ranks no better than its neighbours for 120–129 or ≥150 ms. This module
turns both sides into (measurement, interval) facts so the hybrid search can
add a vote for statements whose interval contains the query's value for the
same measurement.

Both sides use one alias table (standard names and abbreviations of the
measurements the corpus front matter lists, written from clinical usage).
A statement's threshold is attributed to the nearest measurement name
mentioned before it in the same sentence, with a matching unit; when the text
names none, to the statement's front-matter measurement with that unit, if
there is exactly one. Sex-specific limits are kept as separate intervals:
a value inside any of them counts (the query rarely says the sex, and a
statement that gives the limit for either sex is still the one to read).

Nothing here invents a number: a query without a recognisable
"name value [unit]" pair yields no facts and no vote.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

# measurement -> (unit family, aliases). Families: 'ms', '%', 'mm', 'mL/m2',
# 'g/m2', 'mmHg', 'm/s', 'cm/s', 'pg/mL', 'ng/mL', 'mV', '/min', 'mmol/L',
# 'mEq/L', 'mL/min', 'cm', '1' (ratio or score).
MEASUREMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "qrs_duration": ("ms", ("qrs duration", "qrs width", "qrs")),
    "qtc": ("ms", ("qtc", "corrected qt interval", "corrected qt", "qt corrected")),
    "qt_interval": ("ms", ("qt interval", "qt")),
    "pr_interval": ("ms", ("pr interval", "pr")),
    "p_wave_duration": ("ms", ("p wave duration", "p-wave duration", "p wave")),
    "hv_interval": ("ms", ("hv interval", "hv")),
    "q_wave_duration": ("ms", ("q wave",)),
    "heart_rate": ("/min", ("heart rate", "ventricular rate", "resting rate", "sinus rate", "pulse", "hr")),
    "lvef": ("%", ("lvef", "lv ef", "lv ejection fraction", "left ventricular ejection fraction",
                   "ejection fraction", "ef")),
    "rvef": ("%", ("rvef", "rv ejection fraction", "right ventricular ejection fraction")),
    "rv_fac": ("%", ("fractional area change", "rv fac", "fac")),
    "transferrin_saturation": ("%", ("transferrin saturation", "tsat")),
    "pvc_burden": ("%", ("pvc burden", "ectopic burden", "premature ventricular complex burden")),
    "la_volume_index": ("mL/m2", ("la volume index", "lavi", "left atrial volume index", "indexed la volume",
                                  "la volume indexed")),
    "ra_volume_index": ("mL/m2", ("ra volume index", "ravi", "right atrial volume index", "ra volume indexed")),
    "lv_edv_index": ("mL/m2", ("lv end-diastolic volume index", "lv end-diastolic volume", "lvedvi", "edvi",
                               "lv edv index")),
    "lv_esv_index": ("mL/m2", ("lv end-systolic volume index", "lv end-systolic volume", "lvesvi", "esvi",
                               "lv esv index")),
    "rv_edv_index": ("mL/m2", ("rv end-diastolic volume index", "rvedvi", "rv edv index")),
    "lv_mass_index": ("g/m2", ("lv mass index", "lvmi", "indexed lv mass", "lv mass indexed", "mass index")),
    "lv_idd": ("mm", ("lv internal diastolic diameter", "lv end-diastolic diameter", "lvidd", "lvedd")),
    "max_wall_thickness": ("mm", ("maximal wall thickness", "max wall thickness", "lv wall thickness",
                                  "wall thickness", "septal thickness", "septum", "ivs")),
    "rv_wall_thickness": ("mm", ("rv free-wall thickness", "rv wall thickness")),
    "rv_basal_diameter": ("mm", ("rv basal diameter",)),
    "tapse": ("mm", ("tapse",)),
    "ivc_diameter": ("cm", ("ivc diameter", "ivc")),
    "relative_wall_thickness": ("1", ("relative wall thickness", "rwt")),
    "e_over_a": ("1", ("e/a ratio", "e/a")),
    "e_over_e_prime": ("1", ("e/e'", "e/e′", "e/e prime")),
    "e_prime_septal": ("cm/s", ("septal e'", "septal e′")),
    "e_prime_lateral": ("cm/s", ("lateral e'", "lateral e′")),
    "rv_s_prime": ("cm/s", ("rv s'", "rv s′", "s'", "s′", "s prime")),
    "mitral_e_velocity": ("cm/s", ("peak e velocity", "e velocity", "e wave")),
    "tr_velocity": ("m/s", ("tr velocity", "tr jet", "tr vmax", "tricuspid regurgitation velocity", "tr")),
    "pasp": ("mmHg", ("pulmonary artery systolic pressure", "pasp")),
    "lvot_gradient": ("mmHg", ("lvot gradient", "outflow tract gradient", "outflow gradient", "gradient")),
    "nt_probnp": ("pg/mL", ("nt-probnp", "nt probnp", "ntprobnp")),
    "bnp": ("pg/mL", ("bnp",)),
    "ferritin": ("ng/mL", ("ferritin",)),
    "ldl_cholesterol": ("mmol/L", ("ldl cholesterol", "ldl-c", "ldl")),
    "egfr": ("mL/min", ("egfr",)),
    "potassium": ("mEq/L", ("serum potassium", "potassium", "k")),
    "st_elevation": ("mV", ("st elevation", "st-segment elevation", "j-point elevation", "j point elevation")),
    "st_depression": ("mV", ("st depression", "st-segment depression")),
    "sokolow_lyon": ("mV", ("sokolow-lyon", "sokolow lyon", "sokolow")),
    "cornell_voltage": ("mV", ("cornell voltage", "cornell")),
    "cha2ds2_va": ("1", ("cha2ds2-va score", "cha2ds2-va")),
    "cha2ds2_vasc": ("1", ("cha2ds2-vasc score", "cha2ds2-vasc")),
    # Named only so that their numbers are not given to a neighbour above.
    "grace_score": ("1", ("grace score", "grace")),
    "age": ("1", ("age", "aged", "ages")),
    "mr_proanp": ("pg/mL", ("mr-proanp",)),
    "s_wave_duration": ("ms", ("s wave",)),
    "r_wave_duration": ("ms", ("r wave", "r-peak time", "r peak time")),
    "t_wave_inversion": ("mV", ("t-wave inversion", "t wave inversion")),
}

# unit text -> (family, factor to the family's unit)
UNITS: dict[str, tuple[str, float]] = {
    "ms": ("ms", 1.0), "msec": ("ms", 1.0), "s": ("ms", 1000.0),
    "%": ("%", 1.0), "percent": ("%", 1.0),
    "mm": ("mm", 1.0), "cm": ("cm", 1.0),
    "ml/m²": ("mL/m2", 1.0), "ml/m2": ("mL/m2", 1.0),
    "g/m²": ("g/m2", 1.0), "g/m2": ("g/m2", 1.0),
    "mmhg": ("mmHg", 1.0), "m/s": ("m/s", 1.0), "cm/s": ("cm/s", 1.0),
    "pg/ml": ("pg/mL", 1.0), "ng/ml": ("ng/mL", 1.0),
    "mv": ("mV", 1.0), "bpm": ("/min", 1.0), "/min": ("/min", 1.0),
    "mmol/l": ("mmol/L", 1.0), "meq/l": ("mEq/L", 1.0), "mmol/l ": ("mmol/L", 1.0),
    "ml/min/1.73 m²": ("mL/min", 1.0), "ml/min/1.73m2": ("mL/min", 1.0), "ml/min": ("mL/min", 1.0),
}
# ECG amplitudes are written in mm (1 mm = 0.1 mV at standard gain) as often
# as in mV; wall and cavity sizes in cm as often as in mm.
CROSS_UNIT = {("mm", "mV"): 0.1, ("cm", "mm"): 10.0, ("mm", "cm"): 0.1}

_NUMBER = r"(?<![\w.′'/])[−-]?\d+(?:\.\d+)?"
_UNIT_RE = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
_UNIT_AFTER = rf"\s*(?P<unit>{_UNIT_RE})?(?![a-z0-9])"

_LOWER_OPEN = ("above", "more than", "over", "exceeds", "exceeding", "longer than", "greater than", "higher than",
               "beyond", ">")
_LOWER_CLOSED = ("at least", "from", "≥", ">=")
_UPPER_OPEN = ("below", "less than", "under", "shorter than", "lower than", "<")
_UPPER_CLOSED = ("up to", "at most", "≤", "<=")
_AFTER_LOWER = ("or more", "or longer", "or above", "or higher", "or greater", "or over")
_AFTER_UPPER = ("or less", "or lower", "or shorter", "or below", "or fewer")


@dataclass(frozen=True)
class Interval:
    """A threshold or range for one measurement, in the family's unit."""

    measurement: str
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True

    def contains(self, value: float) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below


@dataclass(frozen=True)
class Quantity:
    """A value the query states for a measurement."""

    measurement: str
    value: float


def _num(text: str) -> float:
    return float(text.replace("−", "-"))


def _convert(value: float, unit: str | None, family: str) -> float | None:
    """Value in the family's unit, or None when the unit belongs elsewhere."""
    if not unit:
        return value
    fam, factor = UNITS[unit.lower()]
    if fam == family:
        return value * factor
    cross = CROSS_UNIT.get((fam, family))
    return value * factor * cross if cross else None


@lru_cache(maxsize=1)
def _alias_pattern() -> re.Pattern[str]:
    pairs = sorted(
        ((alias, name) for name, (_, aliases) in MEASUREMENTS.items() for alias in aliases),
        key=lambda p: len(p[0]), reverse=True,
    )
    body = "|".join(re.escape(a).replace(r"\ ", r"[\s-]") for a, _ in pairs)
    return re.compile(rf"(?<![a-z0-9/])(?:{body})(?![a-z0-9])", re.IGNORECASE)


@lru_cache(maxsize=1)
def _alias_lookup() -> dict[str, str]:
    out = {}
    for name, (_, aliases) in MEASUREMENTS.items():
        for alias in aliases:
            out[re.sub(r"[\s-]+", " ", alias.lower())] = name
    return out


def _measurement_of(alias_text: str) -> str | None:
    return _alias_lookup().get(re.sub(r"[\s-]+", " ", alias_text.lower()))


# -- query side ----------------------------------------------------------------
_QUERY_VALUE = re.compile(
    rf"[\s:=,(]*(?:(?:is|of|was|at|now|measured|around|about|approximately|~)\s+)*(?P<num>{_NUMBER}){_UNIT_AFTER}",
    re.IGNORECASE,
)
_RATE_VALUE = re.compile(rf"(?P<num>\d+(?:\.\d+)?)\s*(?:bpm|/min|beats per minute)(?![a-z0-9])", re.IGNORECASE)


def query_quantities(query: str) -> list[Quantity]:
    """'name value [unit]' pairs in a query ("QRS 138 ms", "EF of 30%",
    "QTc 485", "LAVI 44 mL/m²"), plus a rate written with bpm or /min."""
    out: list[Quantity] = []
    text = query.replace("·", " ")
    for m in _alias_pattern().finditer(text):
        name = _measurement_of(m.group(0))
        if name is None:
            continue
        v = _QUERY_VALUE.match(text, m.end())
        if not v:
            continue
        family = MEASUREMENTS[name][0]
        value = _convert(_num(v.group("num")), v.group("unit"), family)
        if value is not None:
            out.append(Quantity(name, value))
    for v in _RATE_VALUE.finditer(text):
        out.append(Quantity("heart_rate", float(v.group("num"))))
    return list(dict.fromkeys(out))


# -- statement side ---------------------------------------------------------------
def _phrase(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_RANGE = re.compile(
    rf"(?:between\s+)?(?P<a>{_NUMBER})\s*(?P<unit_a>{_UNIT_RE})?\s*(?:–|—|-|to|and)\s*(?:less than\s+)?"
    rf"(?P<b>{_NUMBER}){_UNIT_AFTER}",
    re.IGNORECASE,
)
_BEFORE = re.compile(
    rf"(?P<op>{_phrase(_LOWER_OPEN + _LOWER_CLOSED + _UPPER_OPEN + _UPPER_CLOSED)})\s*(?:of\s+|a\s+|an\s+)?"
    rf"(?P<num>{_NUMBER}){_UNIT_AFTER}",
    re.IGNORECASE,
)
_AFTER = re.compile(
    rf"(?P<num>{_NUMBER}){_UNIT_AFTER}\s*(?P<op>{_phrase(_AFTER_LOWER + _AFTER_UPPER)})(?![a-z])",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def _owner(sentence: str, at: int, family: str) -> str | None:
    """Measurement a threshold at `at` belongs to: the nearest measurement
    name before it in the same sentence whose unit family matches. A number
    whose measurement is not named in its sentence is left out (guessing from
    the front matter gave "at least 3 months" to LVEF)."""
    best = None
    for m in _alias_pattern().finditer(sentence, 0, at):
        name = _measurement_of(m.group(0))
        if name and MEASUREMENTS[name][0] == family:
            best = name
    return best


def _intervals_for(sentence: str, at: int, unit: str | None, make) -> list[Interval]:
    # A number without a unit is a ratio or score ("E/A of 2 or more", "a
    # CHA2DS2-VA score of 2"); an amplitude in mm may be a threshold in mV.
    unit_family = UNITS[unit.lower()][0] if unit else "1"
    families = [unit_family] + (["mV"] if unit_family == "mm" else [])
    out = []
    for family in families:
        name = _owner(sentence, at, family)
        factor = _convert(1.0, unit, family)
        if name and factor is not None:
            out.append(make(name, factor))
    return out


def statement_intervals(text: str) -> list[Interval]:
    """Ranges and thresholds a statement states, per measurement named in the
    same sentence before the number."""
    out: list[Interval] = []
    for sentence in _SENTENCE.split(text):
        taken: list[tuple[int, int]] = []
        for m in _RANGE.finditer(sentence):
            unit = m.group("unit") or m.group("unit_a")
            a, b = _num(m.group("a")), _num(m.group("b"))
            if a >= b:
                continue
            open_high = "less than" in m.group(0).lower()
            out += _intervals_for(
                sentence, m.start(), unit,
                lambda n, f, a=a, b=b, oh=open_high: Interval(n, a * f, b * f, True, not oh),
            )
            taken.append(m.span())
        for m in _BEFORE.finditer(sentence):
            if any(s <= m.start("num") < e for s, e in taken):
                continue
            op = m.group("op").lower()
            v = _num(m.group("num"))
            if op in _LOWER_OPEN or op in _LOWER_CLOSED:
                closed = op in _LOWER_CLOSED
                make = lambda n, f, v=v, c=closed: Interval(n, low=v * f, low_closed=c)  # noqa: E731
            else:
                closed = op in _UPPER_CLOSED
                make = lambda n, f, v=v, c=closed: Interval(n, high=v * f, high_closed=c)  # noqa: E731
            out += _intervals_for(sentence, m.start(), m.group("unit"), make)
            taken.append(m.span())
        for m in _AFTER.finditer(sentence):
            if any(s <= m.start("num") < e for s, e in taken):
                continue
            op = m.group("op").lower()
            v = _num(m.group("num"))
            if op in _AFTER_LOWER:
                make = lambda n, f, v=v: Interval(n, low=v * f)  # noqa: E731
            else:
                make = lambda n, f, v=v: Interval(n, high=v * f)  # noqa: E731
            out += _intervals_for(sentence, m.start(), m.group("unit"), make)
    return list(dict.fromkeys(out))


class NumericIndex:
    """Statement id -> intervals, built once per corpus."""

    def __init__(self, statements: dict[str, str]):
        self.intervals = {sid: statement_intervals(text) for sid, text in statements.items()}

    def matches(self, statement_id: str, quantities: list[Quantity]) -> bool:
        """True when some query value lies inside one of the statement's
        intervals for the same measurement."""
        for iv in self.intervals.get(statement_id, ()):
            for q in quantities:
                if q.measurement == iv.measurement and iv.contains(q.value):
                    return True
        return False

    def conflicts(self, statement_id: str, quantities: list[Quantity]) -> bool:
        """True when the statement states a range for a measurement the query
        gives a value for, and no range of it for that measurement holds the
        value ("QRS 150 ms or more" vs a statement about QRS 130-149 ms)."""
        for q in quantities:
            own = [iv for iv in self.intervals.get(statement_id, ()) if iv.measurement == q.measurement]
            if own and not any(iv.contains(q.value) for iv in own):
                return True
        return False
