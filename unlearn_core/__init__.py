"""unlearn_core: zero-shot machine unlearning (JiT) and its baselines, metrics and bench CLI.

    from unlearn_core import MLP, fit, unlearn, evaluate, METHODS

Never imports Streamlit; progress reaches callers through callbacks.
"""
from unlearn_core.data import resolve_device
from unlearn_core.methods.jit import jit, jit_loss
from unlearn_core.methods import DEFAULTS, METHODS, MethodSpec, Param, UnlearnResult, list_methods, unlearn
from unlearn_core.metrics import accuracy, boundary_disagreement, entropy_mia, evaluate, js_divergence, mean_js
from unlearn_core.models import MLP, SmallCNN, reinitialize
from unlearn_core.training import FIT_DEFAULTS, fit

__all__ = ["MLP", "SmallCNN", "fit", "unlearn", "evaluate", "METHODS", "DEFAULTS", "FIT_DEFAULTS", "MethodSpec", "Param",
           "UnlearnResult", "list_methods", "jit", "jit_loss", "accuracy", "entropy_mia", "js_divergence",
           "mean_js", "boundary_disagreement", "reinitialize", "resolve_device"]
