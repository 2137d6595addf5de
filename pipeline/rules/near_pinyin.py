"""Confusion-weighted distance between toneless pinyin syllables (near-homophones).

Phone-line ASR and southern accents confuse a few sound pairs: flat and retroflex initials
(z/zh, c/ch, s/sh), n/l, f/h, r/l, the aspirated pair j/q (and q/x, j/x, zh/j…), and the nasal
endings -n/-ng (in/ing, en/eng, an/ang, ian/iang, uan/uang), plus ong/eng, ian/an and i/ü after
j/q/x/y. ``syllable_distance`` adds the cost of an initial change and a final change; any other
change is not a near-homophone (``None``). Tones are ignored, as for exact homophones.
"""

from __future__ import annotations

from functools import lru_cache

INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z", "c", "s")

# Cost of confusing two initials (symmetric). Lower = more often confused on a phone line.
INITIAL_COST: dict[frozenset[str], float] = {
    frozenset(("z", "zh")): 0.4,
    frozenset(("c", "ch")): 0.4,
    frozenset(("s", "sh")): 0.4,
    frozenset(("n", "l")): 0.4,
    frozenset(("f", "h")): 0.6,
    frozenset(("r", "l")): 0.6,
    frozenset(("j", "q")): 0.6,
    frozenset(("q", "x")): 0.8,
    frozenset(("j", "x")): 0.8,
    frozenset(("zh", "j")): 0.8,
    frozenset(("ch", "q")): 0.8,
    frozenset(("sh", "x")): 0.8,
}

# Cost of confusing two finals, written as pinyin spells them after an initial (symmetric).
FINAL_COST: dict[frozenset[str], float] = {
    frozenset(("in", "ing")): 0.4,
    frozenset(("en", "eng")): 0.4,
    frozenset(("an", "ang")): 0.5,
    frozenset(("ian", "iang")): 0.5,
    frozenset(("uan", "uang")): 0.5,
    frozenset(("ong", "eng")): 0.7,
    frozenset(("ian", "an")): 0.7,
}
# i/ü after j/q/x (ü is written u there): ji/ju, jin/jun, jie/jue, jian/juan.
_I_U_COST = 0.7
_I_U_PAIRS = (("i", "u"), ("in", "un"), ("ie", "ue"), ("ian", "uan"))
# Syllables without an initial, spelled with y/w: their finals as pinyin would spell them after one.
_ZERO_INITIAL = {
    "yi": "i", "ya": "ia", "ye": "ie", "yao": "iao", "you": "iu", "yan": "ian", "yin": "in", "yang": "iang",
    "ying": "ing", "yong": "iong", "yu": "ü", "yue": "üe", "yuan": "üan", "yun": "ün",
    "wu": "u", "wa": "ua", "wo": "uo", "wai": "uai", "wei": "ui", "wan": "uan", "wen": "un", "wang": "uang", "weng": "ueng",
}


def split_syllable(syllable: str) -> tuple[str, str]:
    """(initial, final) of a toneless syllable; y/w syllables have initial "" and their written final."""
    if syllable in _ZERO_INITIAL:
        return "", _ZERO_INITIAL[syllable]
    for initial in INITIALS:
        if syllable.startswith(initial) and len(syllable) > len(initial):
            return initial, syllable[len(initial) :]
    return "", syllable


def _final_cost(a: str, b: str, initial: str | None) -> float | None:
    """Cost of a final change; ``initial`` is the shared initial, ``None`` when the initials differ."""
    if a == b:
        return 0.0
    cost = FINAL_COST.get(frozenset((a, b)))
    if cost is not None:
        return cost
    if initial in ("j", "q", "x") and any({a, b} == {i, u} for i, u in _I_U_PAIRS):
        return _I_U_COST
    if initial == "" and any({a, b} == {i, u.replace("u", "ü", 1)} for i, u in _I_U_PAIRS):
        return _I_U_COST
    return None


def syllable_distance(a: str, b: str) -> float | None:
    """Confusion cost between two toneless syllables: 0 if equal, ``None`` if not near at all."""
    if a == b:
        return 0.0
    (ia, fa), (ib, fb) = split_syllable(a), split_syllable(b)
    initial_cost = 0.0 if ia == ib else INITIAL_COST.get(frozenset((ia, ib)))
    if initial_cost is None:
        return None
    final_cost = _final_cost(fa, fb, ia if ia == ib else None)
    if final_cost is None:
        return None
    return round(initial_cost + final_cost, 2)


@lru_cache(maxsize=4096)
def near_syllables(syllable: str, universe: frozenset[str], max_cost: float) -> dict[str, float]:
    """Syllables of ``universe`` within ``max_cost`` of ``syllable`` (itself excluded), with their cost."""
    found = {}
    for other in universe:
        if other != syllable:
            cost = syllable_distance(syllable, other)
            if cost is not None and cost <= max_cost:
                found[other] = cost
    return found
