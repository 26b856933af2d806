"""EMMN, error-minimising-maximising noise (Chundawat et al., "Zero-Shot Machine Unlearning", IEEE TIFS 2023).

Zero-shot impair/repair: error-maximising noise for the forget classes, error-minimising noise
for the others; uses the model and the forget labels only. Full-class forgetting only.

Sources of the defaults: [code] = the authors' or the JiT authors' public code; [paper] = the paper; [ours] = our choice.
"""
from __future__ import annotations

import torch

from unlearn_core.methods.common import Steps, device_of, method_dropout, seeded_generator
from unlearn_core.methods.spec import MethodSpec, Param, small_model_or_paper
from unlearn_core.methods.unsir import learn_noise
from unlearn_core.training import n_outputs, train_loop

TOY2D = dict(
    n_noise=128,           # [ours] noise inputs per class (JiT's copy: 4)
    max_noise_steps=25,    # [code] JiT's emmn: 25 Adam steps for the error-maximising noise
    min_noise_steps=30,    # [code] JiT's emmn: 30 Adam steps for the error-minimising noise
    noise_lr=0.1,          # [code] Adam 0.1
    noise_l2=0.1,          # [code] L2 weight on the error-maximising noise only
    noise_copies=1,        # [ours] how often each noise input appears per epoch
    impair_epochs=10,      # [ours] (JiT's copy: 2 epochs at Adam 1e-4, and no repair)
    impair_lr=0.02,        # [ours] as UNSIR's impair
    repair_epochs=5,       # [paper] repair on the error-minimising noise; epochs [ours]
    repair_lr=0.01,        # [ours] as UNSIR's repair
    batch_size=32,         # [ours]
    seed=0,
)
#: The JiT authors' copy (no repair step), for CIFAR-scale models.
PAPER = dict(TOY2D, n_noise=4, noise_copies=80, impair_epochs=2, impair_lr=1e-4, repair_epochs=0, batch_size=4)

PARAMS = {
    "n_noise": Param("int", "Learned noise inputs per class.", low=1, label="Noise inputs", widget=(1, 512, 1)),
    "max_noise_steps": Param("int", "Adam steps for the error-maximising noise.", low=0, label="Max-noise steps",
                             widget=(0, 200, 1)),
    "min_noise_steps": Param("int", "Adam steps for the error-minimising noise.", low=0, label="Min-noise steps",
                             widget=(0, 200, 1)),
    "noise_lr": Param("float", "Adam's learning rate for the noise.", low=0, low_open=True),
    "noise_l2": Param("float", "L2 weight on the error-maximising noise.", low=0),
    "noise_copies": Param("int", "How often each noise input appears per epoch.", low=1),
    "impair_epochs": Param("int", "Epochs on all the noise.", low=0, label="Impair epochs", widget=(0, 50, 1)),
    "impair_lr": Param("float", "Adam's learning rate while impairing.", low=0, low_open=True, label="Impair lr",
                       widget=(1e-4, 0.1, 1e-4)),
    "repair_epochs": Param("int", "Epochs on the error-minimising noise.", low=0, label="Repair epochs",
                           widget=(0, 50, 1)),
    "repair_lr": Param("float", "Adam's learning rate while repairing.", low=0, low_open=True, label="Repair lr",
                       widget=(1e-4, 0.1, 1e-4)),
    "batch_size": Param("int", "Samples per step.", low=1, label="Batch size", widget=(1, 512, 1)),
    "seed": Param("int", "Seed of the method's random draws."),
}


def run_emmn(model, forget, retain, on_step, *, n_noise, max_noise_steps, min_noise_steps, noise_lr, noise_l2,
             noise_copies, impair_epochs, impair_lr, repair_epochs, repair_lr, batch_size, seed):
    """EMMN, error-minimising-maximising noise (Chundawat et al., "Zero-Shot Machine Unlearning",
    IEEE TIFS 2023). Zero-shot: uses the model and the forget labels only (``retain`` ignored).

    Forget classes = unique labels of yf; the other classes of the model are retained (if there
    are none: ValueError). ``n_noise`` seeded N(0,1) inputs per class: error-*maximising* for each
    forget class (``max_noise_steps`` Adam steps, L2 weight ``noise_l2``), error-*minimising* for
    each retained class (``min_noise_steps``, no L2, as in the JiT authors' copy). Impair:
    ``impair_epochs`` of Adam (``impair_lr``) on all the noise (each sample ``noise_copies`` times,
    labelled with its class); repair: ``repair_epochs`` of Adam (``repair_lr``) on the
    error-minimising noise only. Designed for full-class forgetting: with a forget set that is not
    a whole class it still runs, but forgets the forget samples' *classes*. Noise is not clamped.
    """
    Xf, yf = forget
    max_steps = max_noise_steps
    min_steps = min_noise_steps
    copies = noise_copies
    dev = device_of(model)
    n_classes = n_outputs(model, Xf)
    forget_classes = torch.unique(yf)
    if int(forget_classes.max()) >= n_classes:
        raise ValueError(f"forget has label {int(forget_classes.max())} but the model has only {n_classes} outputs")
    is_forget = torch.zeros(n_classes, dtype=torch.bool, device=dev)
    is_forget[forget_classes] = True
    kept = torch.arange(n_classes, device=dev)[~is_forget]
    if len(kept) == 0:
        raise ValueError("emmn needs at least one class that is not forgotten")
    with method_dropout(seed):
        gen = seeded_generator(seed, 5)
        shape = tuple(Xf.shape[1:])
        max_labels, min_labels = forget_classes.repeat_interleave(n_noise), kept.repeat_interleave(n_noise)
        max_noise = learn_noise(model, max_labels, shape, maximise=True, steps=max_steps, lr=noise_lr,
                                l2=noise_l2, gen=gen)
        min_noise = learn_noise(model, min_labels, shape, maximise=False, steps=min_steps, lr=noise_lr,
                                l2=0.0, gen=gen)
        rep = (copies, *([1] * len(shape)))
        steps = Steps(on_step, model)
        X_imp = torch.cat([max_noise, min_noise]).repeat(*rep)
        y_imp = torch.cat([max_labels, min_labels]).repeat(copies)
        train_loop(model, X_imp, y_imp, epochs=impair_epochs, lr=impair_lr, batch_size=batch_size,
                   seed=int(seed) * 1000 + 51, on_step=steps.hook)
        train_loop(model, min_noise.repeat(*rep), min_labels.repeat(copies), epochs=repair_epochs, lr=repair_lr,
                   batch_size=batch_size, seed=int(seed) * 1000 + 52, on_step=steps.hook)
    model.eval()
    return steps.losses


SPEC = MethodSpec(
    name="emmn", needs="forget", run=run_emmn, params=PARAMS, toy2d=TOY2D, full_class_only=True, class_level=True,
    image=small_model_or_paper(TOY2D, PAPER),
    summary="EMMN (Chundawat et al. 2023): zero-shot impair/repair with error-maximising noise for the forget "
            "classes and error-minimising noise for the others; full-class only",
)
