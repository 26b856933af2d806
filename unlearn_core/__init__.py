"""unlearn_core: zero-shot machine unlearning (JiT) and its baselines, metrics and bench CLI.

    from unlearn_core import MLP, fit, unlearn, evaluate, METHODS

Never imports Streamlit; progress reaches callers through callbacks.
"""
from .data import resolve_device
from .jit import jit, jit_loss
from .methods import DEFAULTS, METHODS, Method, UnlearnResult, list_methods, unlearn
from .metrics import accuracy, boundary_disagreement, entropy_mia, evaluate, js_divergence, mean_js
from .models import MLP, SmallCNN, reinitialize
from .training import FIT_DEFAULTS, fit

__all__ = ["MLP", "SmallCNN", "fit", "unlearn", "evaluate", "METHODS", "DEFAULTS", "FIT_DEFAULTS", "Method",
           "UnlearnResult", "list_methods", "jit", "jit_loss", "accuracy", "entropy_mia", "js_divergence",
           "mean_js", "boundary_disagreement", "reinitialize", "resolve_device"]
