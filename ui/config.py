"""The playground's configuration: widget limits, URL query parameters, classroom flags, presets.

Everything a link should reproduce lives in ``Config``: ``to_query`` writes it as string query
parameters (as TensorFlow Playground keeps its state in the URL) and ``from_query`` reads them
back defensively: unknown keys are ignored, bad values fall back to the default and out-of-range
numbers are clamped to the widget limits, each with a note for the user.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import toy_data
from unlearn_core import METHODS

MIN_CLASSES, MAX_CLASSES = 2, 4
ACTIVATIONS = ("relu", "tanh", "gelu", "sigmoid")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Num:
    """A numeric control: limits, step, format, and a one-line explanation."""
    label: str
    lo: float
    hi: float
    step: float
    integer: bool = False
    help: str = ""


# Every numeric control of the page, with its limits (URL values are clamped to these).
LIMITS: dict[str, Num] = {
    "n": Num("Points", 40, 2000, 20, True, "How many points to generate (train and test together)."),
    "noise": Num("Noise", 0.0, 3.0, 0.01, help="Spread of the points around the dataset's shape."),
    "classes": Num("Classes", MIN_CLASSES, MAX_CLASSES, 1, True, "Number of classes (datasets that take it)."),
    "seed": Num("Seed", 0, 9999, 1, True, "Seed of the data, the split and the model's initialisation."),
    "test": Num("Test share", 0.1, 0.5, 0.05, help="Share of the points held out as test points (hollow)."),
    "width": Num("Neurons per layer", 4, 256, 4, True, "Width of each hidden layer of the MLP."),
    "depth": Num("Hidden layers", 1, 4, 1, True, "Number of hidden layers."),
    "fit_epochs": Num("Training epochs", 10, 1000, 10, True, "Passes over the training data (Adam)."),
    "fit_lr": Num("Training learning rate", 1e-4, 0.1, 1e-4, help="Adam's learning rate for training."),
}

# Unlearning hyperparameters the page exposes, per method (defaults come from unlearn_core's table).
HYPER: dict[str, dict[str, Num]] = {
    "jit": {
        "sigma": Num("σ (noise scale)", 0.01, 2.0, 0.01,
                     help="Std of the Gaussian perturbations ξ around each forget point, in standardised input units: "
                          "the radius of the neighbourhood JiT smooths."),
        "n_samples": Num("N (perturbations)", 1, 200, 1, True,
                         help="Monte-Carlo samples per forget point for the Lipschitz estimate."),
        "lr": Num("Step size", 1e-3, 10.0, 1e-3,
                  help="SGD step. With scale-free steps it is the length of the first step relative to the "
                       "gradient norm; too large collapses the model."),
        "epochs": Num("Epochs", 1, 20, 1, True, help="Passes over the forget set (the paper: 1)."),
        "batch_size": Num("Batch size", 1, 64, 1, True,
                          help="Forget points per optimiser step; smaller batches give more steps (frames)."),
    },
    "finetune": {
        "epochs": Num("Epochs", 1, 200, 1, True, help="Passes over the retain set."),
        "lr": Num("Learning rate", 1e-5, 0.1, 1e-5, help="Adam's learning rate."),
        "batch_size": Num("Batch size", 8, 512, 8, True, help="Retain points per step."),
    },
    "neggrad_plus": {
        "epochs": Num("Epochs", 1, 200, 1, True, help="Passes over the retain set."),
        "lr": Num("Learning rate", 1e-5, 0.1, 1e-5, help="Adam's learning rate."),
        "batch_size": Num("Batch size", 8, 512, 8, True, help="Retain points per step."),
        "alpha": Num("α (retain weight)", 0.0, 1.0, 0.01,
                     help="Loss = α·retain loss − (1−α)·forget loss."),
    },
    "random_label": {
        "epochs": Num("Epochs", 1, 200, 1, True, help="Passes over retain + relabelled forget points."),
        "lr": Num("Learning rate", 1e-5, 0.1, 1e-5, help="Adam's learning rate."),
        "batch_size": Num("Batch size", 8, 512, 8, True, help="Points per step."),
    },
    "retrain": {},
}
NORMALIZE = {"first": "scale-free (first step)", "probe": "scale-free (probe)", "off": "plain SGD"}

# Groups of controls a classroom link can hide (``hide=data,model`` in the URL).
HIDEABLE = {
    "data": "Data controls",
    "model": "Model controls",
    "method": "Method picker",
    "hyper": "Unlearning hyperparameters",
    "draw": "Draw / upload data",
    "history": "Undo / reset",
    "export": "Sharing and export",
    "metrics": "Metrics table",
}


def method_defaults(method: str) -> dict:
    """The exposed hyperparameters' defaults, from unlearn_core's one table."""
    d = METHODS[method].defaults()
    out = {k: d[k] for k in HYPER.get(method, {})}
    if method == "jit":
        out["normalize_step"] = d["normalize_step"] or "off"
    return out


@dataclass
class Config:
    dataset: str = "moons"
    n: int = 600
    noise: float | None = None  # None = the dataset's default
    classes: int | None = None  # None = the dataset's default (where it applies)
    seed: int = 0
    test: float = 0.25
    width: int = 64
    depth: int = 2
    activation: str = "relu"
    fit_epochs: int = 200
    fit_lr: float = 0.01
    method: str = "jit"
    hp: dict = field(default_factory=dict)  # overrides of method_defaults(method)
    device: str = "cpu"
    hide: frozenset = frozenset()

    def resolved_noise(self) -> float:
        return float(self.noise) if self.noise is not None else toy_data.dataset_info(self.dataset).default_noise

    def resolved_classes(self) -> int | None:
        info = toy_data.dataset_info(self.dataset)
        if not info.takes_classes:
            return None
        return int(self.classes) if self.classes is not None else min(info.default_classes, MAX_CLASSES)

    def hyperparameters(self) -> dict:
        """Method hyperparameters for ``unlearn``: defaults with this config's overrides."""
        hp = method_defaults(self.method)
        hp.update({k: v for k, v in self.hp.items() if k in hp})
        if hp.get("normalize_step") == "off":
            hp["normalize_step"] = False
        return hp

    def data_key(self) -> tuple:
        return (self.dataset, self.n, round(self.resolved_noise(), 4), self.resolved_classes(), self.seed, self.test)

    def model_key(self) -> tuple:
        return (self.width, self.depth, self.activation, self.fit_epochs, self.fit_lr, self.seed)


def _clamp(name: str, spec: Num, raw: str, notes: list[str]):
    try:
        v = float(raw)
    except (TypeError, ValueError):
        notes.append(f"URL parameter {name}={raw!r} is not a number; using the default")
        return None
    if not math.isfinite(v):
        notes.append(f"URL parameter {name}={raw!r} is not finite; using the default")
        return None
    c = min(max(v, spec.lo), spec.hi)
    if c != v:
        notes.append(f"URL parameter {name}={raw} is outside {spec.lo:g}..{spec.hi:g}; using {c:g}")
    return int(round(c)) if spec.integer else c


def from_query(params) -> tuple[Config, list[str]]:
    """A ``Config`` from query parameters (a mapping of strings), plus notes on what was ignored."""
    q = {k: (v[-1] if isinstance(v, (list, tuple)) else v) for k, v in dict(params).items()}
    notes: list[str] = []
    cfg = Config()
    if "dataset" in q:
        if q["dataset"] in toy_data.DATASETS:
            cfg.dataset = q["dataset"]
        else:
            notes.append(f"unknown dataset {q['dataset']!r} in the URL; using {cfg.dataset}")
    info = toy_data.dataset_info(cfg.dataset)
    for name in ("n", "noise", "classes", "seed", "test", "width", "depth", "fit_epochs", "fit_lr"):
        if name in q:
            v = _clamp(name, LIMITS[name], q[name], notes)
            if v is not None:
                setattr(cfg, name, v)
    if cfg.noise is not None:
        cfg.noise = min(cfg.noise, info.max_noise)
    if not info.takes_classes:
        cfg.classes = None
    for name, choices in (("activation", ACTIVATIONS), ("method", tuple(METHODS)), ("device", DEVICES)):
        if name in q:
            if q[name] in choices:
                setattr(cfg, name, q[name])
            else:
                notes.append(f"unknown {name} {q[name]!r} in the URL; using {getattr(cfg, name)}")
    for name, spec in HYPER.get(cfg.method, {}).items():
        if name in q:
            v = _clamp(name, spec, q[name], notes)
            if v is not None:
                cfg.hp[name] = v
    if cfg.method == "jit" and "normalize_step" in q:
        if q["normalize_step"] in NORMALIZE:
            cfg.hp["normalize_step"] = q["normalize_step"]
        else:
            notes.append(f"unknown normalize_step {q['normalize_step']!r}; using the default")
    if "hide" in q:
        groups = {g.strip() for g in str(q["hide"]).split(",") if g.strip()}
        bad = sorted(groups - set(HIDEABLE))
        if bad:
            notes.append(f"cannot hide {', '.join(bad)}; hideable: {', '.join(HIDEABLE)}")
        cfg.hide = frozenset(groups & set(HIDEABLE))
    return cfg, notes


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def to_query(cfg: Config) -> dict[str, str]:
    """Query parameters that reproduce ``cfg`` (defaults of the dataset are left out)."""
    q = {"dataset": cfg.dataset, "n": cfg.n, "seed": cfg.seed, "test": cfg.test, "width": cfg.width,
         "depth": cfg.depth, "activation": cfg.activation, "fit_epochs": cfg.fit_epochs, "fit_lr": cfg.fit_lr,
         "method": cfg.method}
    if cfg.noise is not None:
        q["noise"] = cfg.noise
    if cfg.resolved_classes() is not None and cfg.classes is not None:
        q["classes"] = cfg.classes
    defaults = method_defaults(cfg.method)
    for k, v in cfg.hp.items():
        if k in defaults and v != defaults[k]:
            q[k] = v
    if cfg.device != "cpu":
        q["device"] = cfg.device
    if cfg.hide:
        q["hide"] = ",".join(sorted(cfg.hide))
    return {k: _fmt(v) for k, v in q.items()}


def with_hidden(cfg: Config, groups) -> Config:
    return replace(cfg, hide=frozenset(g for g in groups if g in HIDEABLE))

