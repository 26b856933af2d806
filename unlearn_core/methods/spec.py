"""What a method file declares: its parameters (type, valid range, help, the app's widget) and itself.

Each ``unlearn_core/methods/<name>.py`` ends with one ``SPEC = MethodSpec(...)``: the run function,
the parameters with their constraints and one-line help, the defaults of the 2-D profile and of
every image profile. ``registry.py`` collects the SPECs into ``METHODS`` and ``DEFAULTS``; the
app's widgets and the CLI's ``--set`` read them from there (as scikit-learn keeps an estimator's
``_parameter_constraints`` beside its defaults and validates them once).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from unlearn_core.images.zoo import ARCHITECTURES

KINDS = ("int", "float", "bool", "choice")

#: The image architectures and settings that have a defaults profile "<arch>/<setting>"
#: ("image" = a user's own model).
ARCHS = (*ARCHITECTURES, "image")
IMAGE_SETTINGS = ("full_class", "sub_class", "random")


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    kind: "int", "float", "bool" or "choice" (one of ``choices``). ``low`` / ``high``: the valid
    range (inclusive; ``low_open`` excludes ``low``), checked on every call. ``optional``: None is
    also valid (it means "the method decides", e.g. retrain's "repeat the original recipe").
    ``widget``: how the app shows it: for numbers a (lo, hi, step) range a learner can use (narrower
    than the valid range), "select" for a choice, "checkbox" for a bool; None when the app does not
    show the parameter.
    """
    kind: str
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple = ()
    optional: bool = False
    label: str = ""
    widget: tuple[float, float, float] | str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Param kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice Param needs its choices")
        want = {"choice": "select", "bool": "checkbox"}.get(self.kind)
        if self.widget is not None and (self.widget != want if want else not isinstance(self.widget, tuple)):
            raise ValueError(f"a {self.kind} Param's widget is {want or 'a (lo, hi, step) tuple'}, got {self.widget!r}")

    def range_text(self) -> str:
        """The valid values in words, e.g. "> 0", "in [0, 1]", "one of 'mean', 'sum'"."""
        if self.kind == "bool":
            return "True or False"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return f"in {'(' if self.low_open else '['}{lo:g}, {hi:g}]"
        if lo is not None:
            return f"{'>' if self.low_open else '>='} {lo:g}"
        if hi is not None:
            return f"<= {hi:g}"
        return "any number"

    def check(self, method: str, name: str, value: Any) -> Any:
        """``value`` converted to this kind, or a ValueError that says what is valid."""
        if value is None and self.optional:
            return None

        def bad(extra: str = "") -> ValueError:
            none = " (or None)" if self.optional else ""
            return ValueError(f"{method}: {name} must be {self.kind_text()} {self.range_text()}{none}, "
                              f"got {value!r}{extra}")

        if self.kind == "bool":
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise bad()
        if self.kind == "choice":
            if any(type(value) is type(c) and value == c for c in self.choices):
                return value
            raise bad()
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if self.kind == "int":
            if float(value) != int(value):
                raise bad()
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise bad()
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise bad()
        if self.high is not None and value > self.high:
            raise bad()
        return value

    def kind_text(self) -> str:
        return {"int": "an integer", "float": "a number", "bool": "a boolean", "choice": "a value"}[self.kind]


#: What a class-level method's row says in the random setting (the row's "na"; tables show "n/a: " + it).
CLASS_LEVEL_NA = "class-level method"


def not_applicable(spec: "MethodSpec", setting: str) -> str | None:
    """Why ``spec`` does not run in ``setting`` ("class-level method" for a class-level method in the random
    setting), or None when it runs."""
    return CLASS_LEVEL_NA if spec.class_level and setting == "random" else None


@dataclass(frozen=True)
class MethodSpec:
    """One unlearning method, as its file declares it.

    run(model, forget, retain, on_step, **hp) -> list of per-step loss tensors (the contract in
    ``registry.py``). needs: "forget" (zero-shot), "retain" or "full". toy2d: the defaults of the
    2-D profile. image(arch, setting): the defaults of an image profile (None: the 2-D ones).
    class_level: the method forgets whole classes (the forget set only names them), so it has no
    meaning in the random setting: the benches write an n/a row there (``CLASS_LEVEL_NA``).
    full_class_only: the method is run for full-class forgetting only (EMMN, GKT: the JiT authors ran
    them there alone); implies class_level.
    """
    name: str
    needs: str
    summary: str
    run: Callable[..., list[torch.Tensor]] = field(repr=False)
    params: dict[str, Param] = field(repr=False)
    toy2d: dict[str, Any] = field(repr=False)
    image: Callable[[str, str], dict[str, Any]] | None = field(default=None, repr=False)
    full_class_only: bool = False
    class_level: bool = False

    def __post_init__(self):
        if self.full_class_only and not self.class_level:
            raise ValueError(f"{self.name}: a full_class_only method is class_level too")
        if self.needs not in ("forget", "retain", "full"):
            raise ValueError(f"{self.name}: needs must be 'forget', 'retain' or 'full', got {self.needs!r}")
        missing = sorted(set(self.toy2d) ^ set(self.params))
        if missing:
            raise ValueError(f"{self.name}: defaults and params differ on {', '.join(missing)}")

    @property
    def zero_shot(self) -> bool:
        return self.needs == "forget"

    def defaults_for(self, arch: str, setting: str) -> dict[str, Any]:
        """The defaults of the image profile ``<arch>/<setting>``."""
        return dict(self.toy2d if self.image is None else self.image(arch, setting))

    def defaults(self, profile: str = "toy2d") -> dict[str, Any]:
        """The defaults of a profile: "toy2d" or "<arch>/<setting>" (see ``registry.DEFAULTS``)."""
        if profile == "toy2d":
            return dict(self.toy2d)
        arch, _, setting = profile.partition("/")
        if setting not in IMAGE_SETTINGS:
            raise ValueError(f"unknown profile {profile!r}: use 'toy2d' or '<arch>/<setting>' with a setting in "
                             f"{', '.join(IMAGE_SETTINGS)}")
        return self.defaults_for(arch, setting)

    def check(self, hp: dict[str, Any]) -> dict[str, Any]:
        """Every value checked against its Param (and converted); unknown names are an error."""
        unknown = sorted(set(hp) - set(self.params))
        if unknown:
            raise ValueError(f"{self.name} has no hyperparameter(s) {', '.join(unknown)}; "
                             f"it takes {', '.join(sorted(self.params))}")
        return {k: self.params[k].check(self.name, k, v) for k, v in hp.items()}


def small_model_or_paper(toy2d: dict[str, Any], paper: dict[str, Any]) -> Callable[[str, str], dict[str, Any]]:
    """Image defaults for the baselines: their small-model budgets (``toy2d``) for the digits SmallCNN, the
    authors' values (``paper``) for CIFAR-size models, in every setting."""
    return lambda arch, setting: dict(toy2d if arch == "smallcnn" else paper)
