"""The playground's configuration: widget limits, URL query parameters, classroom flags.

The data and model defaults are ``unlearn_core.problem``'s; each method's hyperparameters, their
defaults and their widgets are its file's (``hyper_controls`` derives the widgets from the
registry's ``Param`` objects).

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
from unlearn_core.models import ACTIVATIONS as MODEL_ACTIVATIONS
from unlearn_core.problem import DATA_DEFAULTS

from .workspace import ModelConfig

MIN_CLASSES, MAX_CLASSES = 2, 4
ACTIVATIONS = tuple(MODEL_ACTIVATIONS)  # relu, tanh, gelu, sigmoid
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

#: Labels of the choices of a choice hyperparameter, where a value alone says too little.
NORMALIZE = {"first": "scale-free (first step)", "probe": "scale-free (probe)", "off": "plain SGD"}
CHOICE_LABELS: dict[str, dict] = {"normalize_step": NORMALIZE}


@dataclass(frozen=True)
class Control:
    """The widget of one method hyperparameter, derived from its ``Param`` in the method's file.

    kind "int" / "float": a number input on [lo, hi] in steps of ``step`` (URL values are clamped to
    it); "choice": a select box over ``choices``; "bool": a checkbox.
    """
    name: str
    kind: str
    label: str
    help: str = ""
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    choices: tuple = ()

    @property
    def integer(self) -> bool:
        return self.kind == "int"

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")

    def choice_label(self, value) -> str:
        """How a choice reads in the select box."""
        return str(CHOICE_LABELS.get(self.name, {}).get(value, value))


#: The JiT numbers the Compare and Audit pages show in a row: JiT's parameters that have a slider.
JIT_KNOBS = tuple(k for k, p in METHODS["jit"].params.items() if isinstance(p.widget, tuple))


def hyper_controls(method: str) -> dict[str, Control]:
    """The hyperparameters the page exposes for ``method``: those whose ``Param`` has a ``widget``
    (``unlearn_core.METHODS[method].params``), in the method file's order, with its label, help and
    widget limits."""
    out = {}
    for name, p in METHODS[method].params.items():
        if p.widget is None:
            continue
        label = p.label or name
        if isinstance(p.widget, tuple):
            lo, hi, step = p.widget
            out[name] = Control(name, p.kind, label, p.help, lo, hi, step)
        else:
            out[name] = Control(name, p.kind, label, p.help, choices=tuple(p.choices))
    return out


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
    "presets": "Presets",
    "source": "Data source picker",
}

#: The Config fields each hideable group of controls sets (a preset never changes a hidden group's fields).
GROUP_FIELDS = {
    "data": ("dataset", "n", "noise", "classes", "seed", "test"),
    "model": ("width", "depth", "activation", "fit_epochs", "fit_lr"),
    "method": ("method",),
    "hyper": ("hp",),
}


def method_defaults(method: str) -> dict:
    """The exposed hyperparameters' defaults, from the method's file (the registry's 2-D profile)."""
    d = METHODS[method].defaults()
    return {k: d[k] for k in hyper_controls(method)}


#: The model defaults (``unlearn_core.problem.ModelRecipe`` through ``ModelConfig``).
MODEL = ModelConfig()


@dataclass
class Config:
    """Everything a link reproduces. The data and model defaults are ``unlearn_core.problem``'s
    (``DATA_DEFAULTS`` and ``ModelRecipe``), the method's are the registry's (``method_defaults``)."""
    dataset: str = DATA_DEFAULTS["dataset"]
    n: int = DATA_DEFAULTS["n_samples"]
    noise: float | None = None  # None = the dataset's default
    classes: int | None = None  # None = the dataset's default (where it applies)
    seed: int = DATA_DEFAULTS["data_seed"]
    test: float = DATA_DEFAULTS["test_size"]
    width: int = MODEL.width
    depth: int = MODEL.depth
    activation: str = MODEL.activation
    fit_epochs: int = MODEL.epochs
    fit_lr: float = MODEL.lr
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
        return hp

    def data_key(self) -> tuple:
        return (self.dataset, self.n, round(self.resolved_noise(), 4), self.resolved_classes(), self.seed, self.test)

    def model_key(self) -> tuple:
        return (self.width, self.depth, self.activation, self.fit_epochs, self.fit_lr, self.seed)

    def model_config(self) -> ModelConfig:
        """The workspace's model and training recipe for this configuration."""
        return ModelConfig(width=self.width, depth=self.depth, activation=self.activation, epochs=self.fit_epochs,
                           lr=self.fit_lr, seed=self.seed)


def _flag(name: str, raw: str, notes: list[str]) -> bool | None:
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    notes.append(f"URL parameter {name}={raw!r} is not true or false; using the default")
    return None


def _clamp(name: str, spec: Num | Control, raw: str, notes: list[str]):
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
    for name, control in hyper_controls(cfg.method).items():
        if name not in q:
            continue
        if control.numeric:
            v = _clamp(name, control, q[name], notes)
        elif control.kind == "bool":
            v = _flag(name, q[name], notes)
        else:
            v = next((c for c in control.choices if str(c) == q[name]), None)
            if v is None:
                notes.append(f"unknown {name} {q[name]!r}; using the default")
        if v is not None:
            cfg.hp[name] = v
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


def merge_visible(current: Config, proposed: Config, hide) -> Config:
    """``proposed`` where its controls are visible, ``current`` where a classroom link hides them (presets
    apply through this: they never change a hidden control)."""
    changes = {}
    for group, fields in GROUP_FIELDS.items():
        if group not in hide:
            changes.update({f: getattr(proposed, f) for f in fields})
    if "hyper" in hide and "method" not in hide and proposed.method != current.method:
        changes["hp"] = {}  # another method: its hidden hyperparameters stay at their defaults
    return replace(current, **changes)


def with_hidden(cfg: Config, groups) -> Config:
    return replace(cfg, hide=frozenset(g for g in groups if g in HIDEABLE))

