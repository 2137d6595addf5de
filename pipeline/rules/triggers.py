"""Triggers written as small finite regexes ("(?:打|砍)(?:断|掉)") expand to literal words.

The prefilter needs literal words; letting a pack write them as alternations keeps it short.
Lookarounds and anchors are dropped (the prefilter may over-select, never under-select).
"""

from __future__ import annotations

import itertools
import re
import re._constants as sre
import re._parser as sre_parse
from typing import Any

MAX_WORDS = 5000
_MAX_REPEAT = 3


class NotFinite(ValueError):
    """The trigger can match unboundedly many strings (``.``, ``+``, ``*``, negated classes)."""


def _expand(items: Any) -> list[str]:
    words = [""]
    for op, av in items:
        if op is sre.LITERAL:
            options = [chr(av)]
        elif op is sre.IN:
            options = []
            for sub_op, sub_av in av:
                if sub_op is sre.LITERAL:
                    options.append(chr(sub_av))
                elif sub_op is sre.RANGE and sub_av[1] - sub_av[0] < 64:
                    options.extend(chr(c) for c in range(sub_av[0], sub_av[1] + 1))
                else:
                    raise NotFinite("character class too wide")
        elif op is sre.SUBPATTERN:
            options = _expand(av[-1])
        elif op is sre.BRANCH:
            options = [w for branch in av[1] for w in _expand(branch)]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, body = av
            if high > _MAX_REPEAT:
                raise NotFinite("unbounded repeat")
            inner = _expand(body)
            options = ["".join(p) for n in range(low, high + 1) for p in itertools.product(inner, repeat=n)]
        elif op in (sre.ASSERT, sre.ASSERT_NOT, sre.AT):
            continue
        else:
            raise NotFinite(f"unsupported construct {op}")
        words = [w + o for w in words for o in options]
        if len(words) > MAX_WORDS:
            raise NotFinite("too many words")
    return words


def expand_trigger(pattern: str) -> set[str]:
    """All literal words a finite trigger pattern matches; a plain word gives itself."""
    if not re.search(r"[\\\[\](){}|?*+.^$]", pattern):
        return {pattern}
    words = {w for w in _expand(sre_parse.parse(pattern)) if w}
    if not words:
        raise NotFinite("matches only the empty string")
    return words
