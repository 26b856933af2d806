"""Gated Knowledge Transfer (Chundawat et al., "Zero-Shot Machine Unlearning", IEEE TIFS 2023).

Zero-shot: distil a fresh student from the original on generated inputs, gating out those the
original links to the forget classes. Full-class forgetting only.

Sources of the defaults: [code] = the authors' public code (the original notebook, or the JiT
authors' copy); [ours] = our choice for the small models of this project.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from unlearn_core.methods.common import (Steps, device_of, frozen_copy, input_affine, kl, method_dropout,
                                         optimiser_step, reinitialize_keeping_input_stats, seeded_generator,
                                         to_inputs)
from unlearn_core.methods.spec import MethodSpec, Param, small_model_or_paper
from unlearn_core.models import seeded_construction
from unlearn_core.training import n_outputs

TOY2D = dict(
    n_iterations=100,      # [ours] pseudo-batches (the paper's notebook: 4000; JiT's copy: 1000)
    batch_size=128,        # [code] JiT's copy (the original notebook: 256)
    z_dim=128,             # [code] 128
    generator_width=256,   # [ours] MLP generator (the paper's is convolutional, for 32x32 images)
    n_generator_iter=1,    # [code] original notebook: 1 generator step per pseudo-batch (JiT: 2)
    n_student_iter=10,     # [code] original notebook: 10 student steps per pseudo-batch (JiT: 15)
    lr=1e-3,               # [code] original notebook: Adam 1e-3 for the student
    generator_lr=1e-3,     # [code] original notebook: Adam 1e-3 for the generator
    threshold=0.01,        # [code] gate: drop samples with teacher prob of a forget class > 0.01
    kl_temperature=1.0,    # [code] 1
    max_grad_norm=5.0,     # [code] both clip at 5
    seed=0,
)
#: The paper's budget (CIFAR-scale models).
PAPER = dict(TOY2D, n_iterations=4000, batch_size=256)

PARAMS = {
    "n_iterations": Param("int", "Pseudo-batches of generated inputs.", low=0, label="Pseudo-batches",
                          widget=(0, 1000, 10)),
    "batch_size": Param("int", "Generated inputs per pseudo-batch.", low=2, label="Batch size", widget=(8, 512, 8)),
    "z_dim": Param("int", "Size of the generator's latent input.", low=1),
    "generator_width": Param("int", "Width of the MLP generator.", low=1),
    "n_generator_iter": Param("int", "Generator steps per pseudo-batch.", low=0),
    "n_student_iter": Param("int", "Student steps per pseudo-batch.", low=0, label="Student steps",
                            widget=(0, 50, 1)),
    "lr": Param("float", "Adam's learning rate for the student.", low=0, low_open=True, label="Learning rate",
                widget=(1e-5, 0.1, 1e-5)),
    "generator_lr": Param("float", "Adam's learning rate for the generator.", low=0, low_open=True),
    "threshold": Param("float", "Gate: drop generated inputs the original gives a forget class more than this "
                                "probability.", low=0, high=1, low_open=True, label="Gate threshold",
                       widget=(0.001, 1.0, 0.001)),
    "kl_temperature": Param("float", "Distillation temperature.", low=0, low_open=True),
    "max_grad_norm": Param("float", "Gradient clipping norm (None: no clipping).", low=0, low_open=True, optional=True),
    "seed": Param("int", "Seed of the method's random draws."),
}


def apply_gate(teacher_logits: torch.Tensor, forget_classes: torch.Tensor, threshold: float) -> torch.Tensor:
    """GKT's gate: True for the samples to keep, i.e. where the teacher's softmax probability of
    every forget class is at most ``threshold``."""
    probs = F.softmax(teacher_logits.detach().float(), dim=1)
    return (probs[:, forget_classes] <= threshold).all(dim=1)


class Generator(nn.Module):
    """GKT's generator, as an MLP for any input shape: z [B, z_dim] -> inputs [B, *shape]. The last
    layer is a BatchNorm (as in the authors' generator), so outputs are standardised per feature."""

    def __init__(self, z_dim: int, shape: tuple[int, ...], width: int = 256, seed: int | None = None):
        super().__init__()
        self.shape = tuple(shape)
        d = math.prod(self.shape)
        with seeded_construction(self, seed):
            self.net = nn.Sequential(
                nn.Linear(z_dim, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2),
                nn.Linear(width, width), nn.BatchNorm1d(width), nn.LeakyReLU(0.2),
                nn.Linear(width, d), nn.BatchNorm1d(d, affine=True),
            )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(len(z), *self.shape)


def run_gkt(model, forget, retain, on_step, *, n_iterations, batch_size, z_dim, generator_width, n_generator_iter,
            n_student_iter, lr, generator_lr, threshold, kl_temperature, max_grad_norm, seed):
    """Gated Knowledge Transfer (Chundawat et al., "Zero-Shot Machine Unlearning", IEEE TIFS 2023).
    Zero-shot: D_f gives only the forget classes (unique yf) and the input shape; ``retain`` is
    ignored.

    Teacher = frozen original. Student = ``model`` itself, re-initialised with ``seed`` (input
    statistics kept) and trained from scratch by distillation. For each of ``n_iterations``
    pseudo-batches: draw z (``batch_size`` x ``z_dim``, seeded), generate inputs, drop the samples
    the teacher gives any forget class probability above ``threshold`` (``apply_gate``); then
    ``n_generator_iter`` Adam steps on the generator maximising KL(teacher || student) and
    ``n_student_iter`` Adam steps on the student minimising it, on the gated samples, gradients
    clipped to ``max_grad_norm``. The gate is applied to every generated batch (the generator
    output is computed on the whole batch, as the authors do, then filtered); a generator step or
    student phase with fewer than two samples left is skipped (it still counts towards
    ``n_iterations``; the authors retry instead, which can loop forever). No attention-transfer term
    (the contract gives logits only), no lr scheduler. The history holds the student steps. If no
    student step could be taken at all (an unsure teacher gates out everything), ValueError.
    The paper trains for thousands of pseudo-batches; the default budget here is small.
    """
    Xf, yf = forget
    width = generator_width
    n_gen, n_stu = n_generator_iter, n_student_iter
    T = kl_temperature
    clip = max_grad_norm
    dev = device_of(model)
    n_classes = n_outputs(model, Xf)
    forget_classes = torch.unique(yf)
    if len(forget_classes) >= n_classes:
        raise ValueError("gkt needs at least one class that is not forgotten")
    shape = tuple(Xf.shape[1:])
    with method_dropout(seed):
        teacher = frozen_copy(model)
        reinitialize_keeping_input_stats(model, seed)
        affine = input_affine(model, shape, dev)
        generator = Generator(z_dim, shape, width, seed=int(seed) + 1).to(dev)
        gen_params = list(generator.parameters())
        stu_params = [p for p in model.parameters() if p.requires_grad]
        g_opt = torch.optim.Adam(gen_params, lr=generator_lr)
        s_opt = torch.optim.Adam(stu_params, lr=lr)
        zgen = seeded_generator(seed, 6)
        steps = Steps(on_step, model)
        model.train()
        generator.train()
        for _ in range(n_iterations):
            z = torch.randn((batch_size, z_dim), generator=zgen).to(dev)
            for _ in range(n_gen):
                x = to_inputs(generator(z), affine)
                t_logits = teacher(x)  # frozen weights, but differentiable in x
                keep = apply_gate(t_logits, forget_classes, threshold)
                if int(keep.sum()) < 2:
                    continue
                g_loss = -kl(model(x[keep]), F.softmax(t_logits[keep] / T, dim=1), T)
                g_opt.zero_grad(set_to_none=True)
                for p, g in zip(gen_params, torch.autograd.grad(g_loss, gen_params)):
                    p.grad = g
                if clip is not None:
                    nn.utils.clip_grad_norm_(gen_params, clip)
                g_opt.step()
            with torch.no_grad():  # the generator is fixed during the student steps
                x = to_inputs(generator(z), affine)
                t_logits = teacher(x)
                keep = apply_gate(t_logits, forget_classes, threshold)
                if int(keep.sum()) < 2:
                    continue
                x, target = x[keep], F.softmax(t_logits[keep] / T, dim=1)
            for _ in range(n_stu):
                loss = kl(model(x), target, T)
                optimiser_step(s_opt, loss, stu_params, clip)
                steps(loss)
    model.eval()
    if n_iterations > 0 and n_stu > 0 and not steps.losses:
        raise ValueError(f"gkt: in all {n_iterations} pseudo-batches the teacher gave (almost) every generated input "
                         f"a forget-class probability above threshold={threshold}, so the fresh student was never "
                         "trained; the teacher may be too unsure for the gate (raise threshold, or use a trained "
                         "model)")
    return steps.losses


SPEC = MethodSpec(
    name="gkt", needs="forget", run=run_gkt, params=PARAMS, toy2d=TOY2D, full_class_only=True, class_level=True,
    image=small_model_or_paper(TOY2D, PAPER),
    summary="GKT (Chundawat et al. 2023): zero-shot distillation of a fresh student on generated inputs, gating out "
            "those the teacher links to the forget classes; full-class only",
)
