"""The unlearning methods behind one call, ``unlearn``; ``registry`` assembles METHODS and DEFAULTS."""
from unlearn_core.methods.registry import DEFAULTS, METHODS, Method, UnlearnResult, defaults_for, list_methods, unlearn

__all__ = ["DEFAULTS", "METHODS", "Method", "UnlearnResult", "defaults_for", "list_methods", "unlearn"]
