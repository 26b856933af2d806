"""The unlearning methods: one file per method (code, defaults, constraints, help), collected by ``registry``.

    from unlearn_core.methods import METHODS, DEFAULTS, unlearn, list_methods
"""
from unlearn_core.methods.registry import DEFAULTS, METHODS, UnlearnResult, defaults_for, list_methods, unlearn
from unlearn_core.methods.spec import ARCHS, IMAGE_SETTINGS, MethodSpec, Param

__all__ = ["ARCHS", "DEFAULTS", "IMAGE_SETTINGS", "METHODS", "MethodSpec", "Param", "UnlearnResult", "defaults_for",
           "list_methods", "unlearn"]
