"""A pure, keyword-based risk scorer: the reference stand-in for the clinical safety model.

It looks for a handful of phrases, case-insensitively, and returns the most severe match. It is
deliberately simple and conservative; a real assessor is a trained model reviewed by clinicians.

>>> score_text("some days I want to die").level == safety_pb2.RISK_LEVEL_CRITICAL
True
>>> score_text("the lighthouse is lovely").level == safety_pb2.RISK_LEVEL_NONE
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from tta.v1 import safety_pb2

__all__ = ["Assessment", "action_for", "score_text"]

RiskLevel: TypeAlias = safety_pb2.RiskLevel
RiskCategory: TypeAlias = safety_pb2.RiskCategory

# (phrase, level, category), most severe first. Phrases are matched on word boundaries.
_PHRASES: tuple[tuple[str, RiskLevel, RiskCategory], ...] = (
    ("want to die", safety_pb2.RISK_LEVEL_CRITICAL, safety_pb2.RISK_CATEGORY_SUICIDAL_IDEATION),
    ("kill myself", safety_pb2.RISK_LEVEL_CRITICAL, safety_pb2.RISK_CATEGORY_SUICIDAL_IDEATION),
    ("end my life", safety_pb2.RISK_LEVEL_CRITICAL, safety_pb2.RISK_CATEGORY_SUICIDAL_IDEATION),
    ("suicide", safety_pb2.RISK_LEVEL_CRITICAL, safety_pb2.RISK_CATEGORY_SUICIDAL_IDEATION),
    ("hurt myself", safety_pb2.RISK_LEVEL_HIGH, safety_pb2.RISK_CATEGORY_SELF_HARM),
    ("cut myself", safety_pb2.RISK_LEVEL_HIGH, safety_pb2.RISK_CATEGORY_SELF_HARM),
    ("self harm", safety_pb2.RISK_LEVEL_HIGH, safety_pb2.RISK_CATEGORY_SELF_HARM),
    ("hurt someone", safety_pb2.RISK_LEVEL_HIGH, safety_pb2.RISK_CATEGORY_HARM_TO_OTHERS),
    ("hits me", safety_pb2.RISK_LEVEL_HIGH, safety_pb2.RISK_CATEGORY_ABUSE_DISCLOSURE),
    ("hopeless", safety_pb2.RISK_LEVEL_MODERATE, safety_pb2.RISK_CATEGORY_SUICIDAL_IDEATION),
    ("can't go on", safety_pb2.RISK_LEVEL_MODERATE, safety_pb2.RISK_CATEGORY_SUICIDAL_IDEATION),
    ("drunk again", safety_pb2.RISK_LEVEL_MODERATE, safety_pb2.RISK_CATEGORY_SUBSTANCE_USE),
    ("lonely", safety_pb2.RISK_LEVEL_LOW, safety_pb2.RISK_CATEGORY_UNSPECIFIED),
    ("worthless", safety_pb2.RISK_LEVEL_LOW, safety_pb2.RISK_CATEGORY_UNSPECIFIED),
)
_PATTERNS = tuple(
    (re.compile(rf"\b{re.escape(p)}\b", re.IGNORECASE), p, lvl, cat) for p, lvl, cat in _PHRASES
)


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the scorer found: the worst level, the categories, and the phrases that matched."""

    level: RiskLevel
    categories: tuple[RiskCategory, ...]
    matched: tuple[str, ...]
    excerpt: str

    @property
    def escalates(self) -> bool:
        """High and critical risk is raised to a human."""
        return self.level >= safety_pb2.RISK_LEVEL_HIGH


def score_text(text: str) -> Assessment:
    """Score ``text``; ``RISK_LEVEL_NONE`` when no phrase matches."""
    level: RiskLevel = safety_pb2.RISK_LEVEL_NONE
    categories: list[RiskCategory] = []
    matched: list[str] = []
    excerpt = ""
    for pattern, phrase, phrase_level, category in _PATTERNS:
        found = pattern.search(text)
        if not found:
            continue
        matched.append(phrase)
        if category and category not in categories:
            categories.append(category)
        if phrase_level > level:
            level = phrase_level
            # quote the sentence around the first worst match, for the clinician
            start = max(text.rfind(".", 0, found.start()) + 1, found.start() - 80)
            end = text.find(".", found.end())
            excerpt = text[start : end + 1 if end != -1 else min(len(text), found.end() + 80)].strip()
    return Assessment(level, tuple(categories), tuple(matched), excerpt)


def action_for(level: RiskLevel) -> safety_pb2.SafetyAction:
    """The ``SafetyAction`` for a risk level: allow, warn, hold, or escalate."""
    if level >= safety_pb2.RISK_LEVEL_HIGH:
        return safety_pb2.SAFETY_ACTION_ESCALATE
    if level == safety_pb2.RISK_LEVEL_MODERATE:
        return safety_pb2.SAFETY_ACTION_HOLD
    if level == safety_pb2.RISK_LEVEL_LOW:
        return safety_pb2.SAFETY_ACTION_WARN
    return safety_pb2.SAFETY_ACTION_ALLOW
