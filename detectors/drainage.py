"""Graded rules for the drainage lifeline (DOMAIN.md)."""

from __future__ import annotations

from lifeline.models import SensorKind

from .rulebase import KindRule

__all__ = ["RULES"]

RULES: dict[SensorKind, KindRule] = {}
