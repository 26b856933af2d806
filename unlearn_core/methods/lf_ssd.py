"""Loss-free (label-free) SSD (Foster, Schoepf, Brintrup 2024, arXiv 2402.19308).

SSD (``ssd.py``) with the importance of a parameter taken from the gradient of the logits'
squared norm, so the edit uses no labels: D's and D_f's inputs suffice (it needs "full" for D).
"""
from __future__ import annotations

from unlearn_core.methods.spec import MethodSpec
from unlearn_core.methods.ssd import PARAMS, TOY2D, image_defaults, run_dampening

#: As SSD's (the JiT authors' per-setting alpha / lambda, batch-mean importances): the LFSSD change is the
#: importance only (the LFSSD README: ``torch.norm(out, p="fro", dim=1).pow(2).mean()`` and ``|grad|``).


def run_lf_ssd(model, forget, retain, on_step, *, alpha, lam, importance, batch_size, chunk_size, seed):
    """Loss-free (label-free) SSD (Foster, Schoepf, Brintrup 2024, arXiv 2402.19308).

    As ``run_ssd`` but the importance of a parameter is the |gradient| of ||f(x)||_2^2 (the logits'
    squared norm): with ``importance="batch_mean"`` (the LFSSD code) the |gradient| of each batch's
    mean, averaged over batches; with "per_sample" the mean per-sample |gradient|. No labels are used
    for the edit: D's inputs and D_f's inputs suffice (needs "full" for D). The one history entry is the forget-set
    cross-entropy after the edit (labels used only for that report). Deterministic.
    """
    return run_dampening("label_free", model, forget, retain, on_step, alpha, lam, importance, batch_size,
                         chunk_size)


SPEC = MethodSpec(
    name="lf_ssd", needs="full", run=run_lf_ssd, params=PARAMS, toy2d=dict(TOY2D), image=image_defaults,
    summary="LF-SSD (Foster et al. 2024): label-free SSD, importances from the gradient of the logits' squared norm",
)
