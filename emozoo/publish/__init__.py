"""Zoo presets as data: ``python -m emozoo.publish PRESET`` retrains, exports and publishes one.

keras-hub keeps a model's presets as dictionary entries beside the model (``bert_presets.py``).
Here each method's ``emozoo/models/<method>/<method>_presets.py`` holds two dictionaries:

* ``PRESETS``: the model card of every zoo entry (name, description, corpora, protocol, licence,
  the experiment it trains) that :func:`emozoo.zoo.publish` writes into ``saved_models/registry.json``;
* ``RECIPES``: for each preset that is retrained here, the function that retrains, exports and
  publishes it (``"package.module:function"``, imported only when the preset is published, like
  :func:`emozoo.experiments.registry.register_runner`), its fixed keyword arguments and the
  command-line options it takes::

      RECIPES = {"dann_speech": {"target": "emozoo.models.dann.dann_zoo:publish_speech",
                                 "kwargs": {}, "options": ("seed",)}}

(``"trains"``, optional, says what the recipe trains when that is not the card's ``experiment``.)

A recipe function is called with keyword arguments only: the recipe's ``kwargs``, ``repo`` (the
folder that ``tfrecords/``, ``benchmarks/results/`` and ``runs/`` resolve against), ``zoo_dir``
(the zoo folder, ``None``: :func:`emozoo.zoo.zoo_dir`), ``command`` (the exact command line, which
goes on the card) and each option the user gave; it returns the registry entry. An option the
recipe does not declare is refused (:class:`~emozoo.errors.PresetError`), never ignored.

Example:
    >>> from emozoo.publish import list_text, recipes
    >>> "dann_speech" in recipes()
    True
    >>> publish_preset("dann_speech", seed=1, zoo_dir="/tmp/zoo")   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Callable

from emozoo.errors import PresetError

#: the checkout (``tfrecords/``, ``benchmarks/results/``, ``runs/`` live here by default)
REPO = Path(__file__).resolve().parents[2]
#: keyword arguments every recipe function receives
COMMON = ("repo", "zoo_dir", "command")
#: options a recipe may declare: name -> (type, help). ``bool`` options are flags.
OPTIONS: dict[str, tuple[type, str]] = {
    "seed": (int, "training seed (default 0)"),
    "epochs": (int, "training epochs (default: the recipe's CPU preset)"),
    "from_run": (bool, "publish the model a table run saved (same recipe and seed) instead of retraining it"),
    "design": (str, "override the design the benchmark chose (for experiments, not for publishing)"),
    "threads": (int, "TensorFlow intra- and inter-op threads"),
    "runs": (str, "folder of the finished training runs the recipe exports (relative paths: under --repo)"),
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One publishable preset: its card (``PRESETS[preset]``) and how to retrain + publish it."""

    preset: str
    module: str                   # the *_presets module that declares it
    target: str                   # "package.module:function"
    kwargs: dict
    options: tuple
    card: dict
    trains: str = ""              # what it trains when that is not the card's ``experiment``

    @property
    def method(self) -> str:
        return self.card.get("method", self.module.split(".")[-2])

    @property
    def experiment(self) -> str:
        return self.trains or str(self.card.get("experiment", "-"))

    def summary(self) -> str:
        """The first sentence of the card's description."""
        return first_sentence(self.card.get("description", ""))


#: words after which a full stop does not end a sentence
_ABBREVIATIONS = {"al", "eq", "e.g", "i.e", "cf", "vs", "fig", "sec", "no"}


def first_sentence(text: str, limit: int = 100) -> str:
    """The text up to its first sentence end (``. `` not after an abbreviation such as ``et al.``
    or ``eq.``, or ``; ``, neither inside parentheses), at most ``limit`` characters.

    Example:
        >>> first_sentence("Lian et al. 2019 DANN (eq. (5); GRL); speaker adversary. More.")
        'Lian et al. 2019 DANN (eq. (5); GRL)'
    """
    text = " ".join(str(text).split())
    end = len(text)
    for m in re.finditer(r"\.\s|;\s", text):
        word = re.findall(r"[\w.]+$", text[:m.start()])
        if m.group().startswith(".") and word and word[0].lower() in _ABBREVIATIONS:
            continue
        if text[:m.start()].count("(") > text[:m.start()].count(")"):      # inside parentheses
            continue
        end = m.start()
        break
    head = text[:end].rstrip(".")
    return head if len(head) <= limit else head[:limit - 3].rstrip() + "..."


def _preset_modules() -> list:
    import emozoo.models as models

    out = []
    for info in pkgutil.iter_modules(models.__path__):
        if not info.ispkg:
            continue
        name = f"emozoo.models.{info.name}.{info.name}_presets"
        try:
            out.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return out


def all_presets() -> dict[str, dict]:
    """Every zoo card of every method's ``*_presets.py`` (``name -> card``)."""
    cards = {}
    for mod in _preset_modules():
        cards.update(getattr(mod, "PRESETS", {}))
    return cards


def recipes() -> dict[str, Recipe]:
    """Every preset that has a publish recipe, sorted by name.

    Raises :class:`~emozoo.errors.PresetError` when a recipe is malformed (no card, no
    ``module:function`` target, an option :data:`OPTIONS` does not know).
    """
    out = {}
    for mod in _preset_modules():
        cards = getattr(mod, "PRESETS", {})
        for name, r in getattr(mod, "RECIPES", {}).items():
            where = f"recipe {name!r} in {mod.__name__}"
            if name not in cards:
                raise PresetError(f"{where} has no model card in that module's PRESETS")
            if name in out:
                raise PresetError(f"{where}: preset {name!r} is also declared by {out[name].module}")
            target = r.get("target", "")
            if not isinstance(target, str) or target.count(":") != 1:
                raise PresetError(f"{where}: target must be 'module:function', got {target!r}")
            options = tuple(r.get("options", ()))
            unknown = [o for o in options if o not in OPTIONS]
            if unknown:
                raise PresetError(f"{where} declares options {unknown} that python -m emozoo.publish does not have "
                                  f"(known: {sorted(OPTIONS)})")
            out[name] = Recipe(name, mod.__name__, target, dict(r.get("kwargs", {})), options, dict(cards[name]),
                               str(r.get("trains", "")))
    return dict(sorted(out.items()))


def get_recipe(name: str) -> Recipe:
    """The recipe of preset ``name``; an unknown name raises :class:`~emozoo.errors.PresetError`
    naming ``--list`` and the closest names."""
    table = recipes()
    if name in table:
        return table[name]
    cards = all_presets()
    if name in cards:
        how = cards[name].get("export_command") or cards[name].get("train_command") or "its method's own commands"
        raise PresetError(f"zoo preset {name!r} has no publish recipe (its card's command: {how}); the presets "
                          "this command publishes: python -m emozoo.publish --list")
    close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
    raise PresetError(f"no zoo preset {name!r}; list them with python -m emozoo.publish --list"
                      + (f"; close matches: {', '.join(close)}" if close else ""))


def resolve(recipe: Recipe) -> Callable:
    """Import the recipe's function and check that it takes the recipe's keyword arguments, its
    options and :data:`COMMON` (``inspect.signature``)."""
    module, _, fn = recipe.target.partition(":")
    try:
        func = getattr(importlib.import_module(module), fn)
    except (ImportError, AttributeError) as exc:
        raise PresetError(f"recipe {recipe.target!r} of preset {recipe.preset!r} cannot be loaded: {exc}") from exc
    params = inspect.signature(func).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise PresetError(f"recipe {recipe.target!r} of preset {recipe.preset!r} takes **kwargs: a recipe names "
                          "every argument, so that an option it does not use is refused")
    names = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = [a for a in (*recipe.kwargs, *recipe.options, *COMMON) if a not in names]
    if missing:
        raise PresetError(f"recipe {recipe.target!r} of preset {recipe.preset!r} has no parameter(s) {missing}")
    required = [n for n, p in params.items() if p.default is p.empty and p.kind is not p.VAR_POSITIONAL
                and n not in (*recipe.kwargs, *COMMON)]
    if required:
        raise PresetError(f"recipe {recipe.target!r} of preset {recipe.preset!r} requires {required}, which the "
                          "recipe does not give")
    return func


def flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def check_options(recipe: Recipe, options: dict) -> None:
    """Refuse options the recipe does not take (one line naming those it does)."""
    extra = [o for o in options if o not in recipe.options]
    if extra:
        takes = ", ".join(flag(o) for o in recipe.options) or "no options"
        raise PresetError(f"preset {recipe.preset!r} does not take {', '.join(flag(o) for o in extra)} (it takes "
                          f"{takes}, plus --repo and --zoo-dir)")
    for o, v in options.items():
        kind = OPTIONS[o][0]
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise PresetError(f"option {flag(o)} of preset {recipe.preset!r} must be {kind.__name__}, got {v!r}")


def command_line(preset: str, options: dict) -> str:
    """``python -m emozoo.publish PRESET`` with the given options, in :data:`OPTIONS` order (the
    card's ``command``: where the files went, ``--repo``/``--zoo-dir``, is not part of it)."""
    parts = ["python -m emozoo.publish", preset]
    for o in OPTIONS:
        if o in options and options[o] is not None and options[o] is not False:
            parts.append(flag(o) if options[o] is True else f"{flag(o)} {options[o]}")
    return " ".join(parts)


def publish_preset(preset: str, *, repo=None, zoo_dir=None, **options) -> dict:
    """Retrain, export and publish zoo preset ``preset`` with its recipe; returns the registry entry.

    Args:
        preset: a name of ``python -m emozoo.publish --list``.
        repo: folder that ``tfrecords/``, ``benchmarks/results/`` and ``runs/`` resolve against
            (default: this checkout).
        zoo_dir: zoo folder written (default :func:`emozoo.zoo.zoo_dir`: ``saved_models/``).
        **options: options the recipe declares (``seed``, ``epochs`` ...); any other is refused.
    """
    recipe = get_recipe(preset)
    options = {k: v for k, v in options.items() if v is not None}
    check_options(recipe, options)
    func = resolve(recipe)
    return func(**recipe.kwargs, **options, repo=Path(repo) if repo is not None else REPO, zoo_dir=zoo_dir,
                command=command_line(preset, options))


def list_text() -> str:
    """What ``--list`` prints: one line per preset with a recipe (name, method, the experiment it
    trains, the first sentence of its description)."""
    table = recipes()
    w = max(len(n) for n in table)
    wm = max(len(r.method) for r in table.values())
    lines = ["# zoo presets: python -m emozoo.publish PRESET retrains, exports and publishes one "
             "(name, method, description, what it trains, its options)"]
    for name, r in table.items():
        opts = " ".join(f"[{flag(o)}]" for o in r.options)
        lines.append(f"{name:<{w}}  {r.method:<{wm}}  {r.summary()} | trains: {r.experiment}"
                     + (f" | {opts}" if opts else ""))
    return "\n".join(lines)


__all__ = ["COMMON", "OPTIONS", "REPO", "Recipe", "all_presets", "check_options", "command_line", "first_sentence",
           "get_recipe", "list_text", "publish_preset", "recipes", "resolve"]
