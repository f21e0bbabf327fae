"""Registered experiments of the semi-supervised CT-GAN method (Liang, Chen, Jin 2019).

Names (``python -m emozoo.train --experiment NAME`` runs one through the one trainer with the
``ssgan`` Task, :class:`emozoo.models.ssgan.ssgan_task.SSGANTask`: one trainer seed (``trainer.seeds
= 1``) over the ``FOLDS`` = 5 folds, fold k trained with seed k, and honours ``--strategy``; the
groups ``ssgan/table/<setting>`` run a setting's three fractions, ``python -m emozoo.report
ssgan/table/<setting>`` tables them; ``python pipelines/ssgan_table.py --setting S`` makes the
published tables and ablation curves from the same run folders ``runs/<name with / as _>``):

* ``ssgan/speech/frac{10,20,50}``: RAVDESS labelled fraction, EmoDB + CASIA unlabelled,
  128-frame Fbank crops, conv G/D; FSBase, SSBase, SSGAN (Tables II/IV shape);
* ``ssgan/face/frac{10,20,50}``: FER2013 labelled fraction of a training pool, the rest of the
  pool unlabelled, conv G/D on 48x48 faces; FSBase, SSBase, SSGAN;
* ``ssgan/multimodal/frac{10,20,50}``: RAVDESS audio-visual features (MFCC + AU), dense G/D per
  modality, MFSBase and MSSGAN (Table VI shape);
* ``ssgan/functionals/frac20``: the dense variant on eGeMAPS (normalisation ablation).
* ``ssgan/face_dface/frac{10,20,50}``: the paper's visual features (Dface embeddings) of CK+,
  labelled fraction of 5 subject folds, the other training images and JAFFE unlabelled, dense.
* ``ssgan/speech_whisper/frac{10,20,50}`` and ``ssgan/face_mobilenet/frac{10,20,50}`` (issue 20, the
  method on the pretrained backbones): the ``functionals`` and ``face_dface`` settings with the
  Whisper-base states (mean over the 7 layer rows, 512) and the face MobileNet embedding (1024) in
  place of eGeMAPS and Dface.
* ``.../paper``: the same with the paper-sized network (D 128-256-512-1024, G 512-256-128-64,
  128x128 crops, batch 64) for GPUs.
* ``ssgan/ablation/unlabelled/{mfsbase,x0,x0.5,x1,x2,x3}`` (group ``ssgan/ablation/unlabelled``, kind
  ``study``; sec. V-A, Fig. 6): MFSBase and MSSGAN with 0x..3x the labelled count of unlabelled
  pairs, RAVDESS AV 10 % labelled;
* ``ssgan/ablation/normalisation/{none,self,shift,combine}`` (group ``ssgan/ablation/normalisation``,
  kind ``study``; sec. V-B, Fig. 7): SSGAN dense on eGeMAPS 20 % labelled, the four normalisations.

``model.params["run"]`` holds the :class:`emozoo.models.ssgan.ssgan_task.RunSpec` fields; the
CPU preset (D 16-32-64, G 64-32-16 on 2x2-pooled 64x64 crops, batch 32 labelled + 32
unlabelled, 300 steps with validation UAR every 25) is what the tables in
``benchmarks/RESULTS.md`` were measured with. The Task builds the unlabelled pools and labelled
fractions itself (:func:`emozoo.models.ssgan.ssgan_task.assemble`); ``data.folds`` (e.g.
``--override data.folds=[0]``) runs only some of the folds.
"""
from __future__ import annotations

from emozoo.experiments import DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig, \
    register_experiment, register_group
from emozoo.models.ssgan.ssgan_sizes import CPU_CONV, PAPER_CONV

FRACTIONS = (0.1, 0.2, 0.5)
FOLDS = 5

CPU_PRESETS = {
    "speech": dict(setting="speech", labelled_corpus="ravdess", unlabelled_corpora=("emodb", "casia"),
                   feature="fbank", pool=2, model={"conv": dict(CPU_CONV)}, steps=300, eval_every=25,
                   ssbase_steps=100, batch=32, unlabelled_batch=32, models=("fsbase", "ssbase", "ssgan")),
    "face": dict(setting="face", model={"conv": dict(CPU_CONV)}, steps=300, eval_every=25, ssbase_steps=100,
                 batch=32, unlabelled_batch=32, face_pool=4000, valid_size=600,
                 models=("fsbase", "ssbase", "ssgan")),
    "multimodal": dict(setting="multimodal", steps=300, eval_every=25, batch=32, unlabelled_batch=32,
                       models=("mfsbase", "mssgan")),
    "functionals": dict(setting="functionals", labelled_corpus="ravdess", unlabelled_corpora=("emodb", "casia"),
                        feature="egemaps", steps=300, eval_every=25, batch=32, unlabelled_batch=32,
                        models=("fsbase", "ssgan")),
    "face_dface": dict(setting="face_dface", labelled_corpus="ckplus", unlabelled_corpora=("jaffe",),
                       unlabelled_with_rest=True, feature="dface", steps=300, eval_every=25, ssbase_steps=100,
                       batch=32, unlabelled_batch=32, models=("fsbase", "ssbase", "ssgan")),
}
# the same method on the pretrained backbones' features (issue 20, section 3)
CPU_PRESETS["speech_whisper"] = {**CPU_PRESETS["functionals"], "feature": "whisper_base"}
CPU_PRESETS["face_mobilenet"] = {**CPU_PRESETS["face_dface"], "feature": "face_mobilenet"}
# paper-sized (sec. IV-B): 128x128 crops, D 128-256-512-1024, G 512-256-128-64, batch 64; for GPUs
PAPER_PRESETS = {
    "speech": {**CPU_PRESETS["speech"], "pool": 1, "model": {"conv": dict(PAPER_CONV)}, "batch": 64,
               "unlabelled_batch": 64, "steps": 5000, "eval_every": 100, "ssbase_steps": 1000},
    "face": {**CPU_PRESETS["face"], "model": {"conv": {"d_channels": (128, 256, 512, 1024),
                                                       "g_channels": (512, 256, 128, 64)}},
             "batch": 64, "unlabelled_batch": 64, "steps": 5000, "eval_every": 100, "ssbase_steps": 1000,
             "face_pool": 28709},
}
DESCRIPTIONS = {
    "speech": "RAVDESS labelled fraction (actor 5-fold), EmoDB+CASIA unlabelled, Fbank crops, conv SSGAN",
    "face": "FER2013 labelled fraction of a training pool, rest unlabelled, 48x48 faces, conv SSGAN",
    "multimodal": "RAVDESS AV (MFCC+AU) labelled fraction (actor 5-fold), other training clips unlabelled, MSSGAN",
    "functionals": "RAVDESS eGeMAPS labelled fraction, EmoDB+CASIA unlabelled, dense SSGAN",
    "face_dface": "CK+ Dface labelled fraction (subject 5-fold), other training images + JAFFE unlabelled, dense SSGAN",
    "speech_whisper": "RAVDESS Whisper-base states (layer mean) labelled fraction, EmoDB+CASIA unlabelled, dense SSGAN",
    "face_mobilenet": "CK+ face MobileNet embedding labelled fraction (subject 5-fold), other training images + "
                      "JAFFE unlabelled, dense SSGAN",
}
#: preset -> the dense settings whose corpora list holds the unlabelled corpora too
_WITH_UNLABELLED_CORPORA = ("speech", "functionals", "face_dface", "speech_whisper", "face_mobilenet")


def experiment_name(setting: str, fraction: float, paper: bool = False) -> str:
    return f"ssgan/{setting}/frac{int(round(100 * fraction))}" + ("/paper" if paper else "")


def _register(setting: str, fraction: float, paper: bool = False, *, name: str = "", extra: dict | None = None,
              what: str = ""):
    name = name or experiment_name(setting, fraction, paper)
    run = {**(PAPER_PRESETS if paper else CPU_PRESETS)[setting], "fraction": fraction, **(extra or {})}

    @register_experiment(name)
    def factory():
        corpora = ((run.get("labelled_corpus", "fer2013" if setting == "face" else "ravdess_av"),)
                   + tuple(run.get("unlabelled_corpora", ())))
        return ExperimentConfig(
            name=name, model=ModelConfig("ssgan", {"run": dict(run)}),
            data=DataConfig(corpora=corpora if setting in _WITH_UNLABELLED_CORPORA else corpora[:1],
                            features=run.get("feature", "face" if setting == "face" else "mfcc+au"),
                            protocol="speaker_kfold" if setting != "face" else "official",
                            protocol_kwargs={"k": FOLDS}, valid_speakers=0,
                            label_set={"face": "7basic", "face_dface": "6basic",
                                       "face_mobilenet": "6basic"}.get(setting, "4class")),
            optimizer=OptimizerConfig("adam", 2e-4, {"beta_1": 0.5}),
            # one trainer seed: its FOLDS folds are the table's runs (fold k trains with seed k)
            trainer=TrainerConfig(epochs=run["steps"] // run["eval_every"], batch_size=run["batch"], seeds=1,
                                  patience=0, tensorboard=False),
            description=f"{DESCRIPTIONS[setting]}; labelled fraction {fraction:g}"
                        + (f"; {what}" if what else "")
                        + ("; paper-sized network (GPU)" if paper else "; CPU preset"))


for _s in CPU_PRESETS:
    for _f in (FRACTIONS if _s != "functionals" else (0.2,)):   # (the backbone presets: every fraction)
        _register(_s, _f, False)
        if _s in PAPER_PRESETS:
            _register(_s, _f, True)

# the two ablations of sec. V as experiments (``python pipelines/ssgan_table.py --ablation ...`` runs the group)
#: sec. V-A / Fig. 6: MSSGAN with 0x .. 3x the labelled count of unlabelled pairs, MFSBase beside (10 % labelled)
UNLABELLED_RATIOS = (0, 0.5, 1, 2, 3)
UNLABELLED_FRACTION = 0.1
#: sec. V-B / Fig. 7: the four normalisations of the unlabelled data (SSGAN dense, eGeMAPS, 20 % labelled)
NORMALISATION_FRACTION = 0.2
_register("multimodal", UNLABELLED_FRACTION, name="ssgan/ablation/unlabelled/mfsbase", extra={"models": ("mfsbase",)},
          what="ablation V-A: MFSBase, the reference without unlabelled data")
for _u in UNLABELLED_RATIOS:
    _register("multimodal", UNLABELLED_FRACTION, name=f"ssgan/ablation/unlabelled/x{_u:g}",
              extra={"models": ("mssgan",), "unlabelled_ratio": float(_u)},
              what=f"ablation V-A: MSSGAN with {_u:g}x the labelled count of unlabelled pairs")
for _n in ("none", "self", "shift", "combine"):     # ssgan_task.NORMALISATIONS (not imported: no numpy here)
    _register("functionals", NORMALISATION_FRACTION, name=f"ssgan/ablation/normalisation/{_n}",
              extra={"models": ("ssgan",), "normalisation": _n},
              what=f"ablation V-B: the unlabelled data normalised with {_n!r}")


# the tables as experiment groups: one per setting (rows FSBase / SSBase / SSGAN per labelled fraction)
_GROUPS = {"speech": "FSBase / SSBase / SSGAN, RAVDESS speech (fbank), EmoDB + CASIA unlabelled (Table II shape)",
           "face": "FSBase / SSBase / SSGAN, FER2013 faces (Table IV shape)",
           "multimodal": "MFSBase / MSSGAN, RAVDESS audio-visual (Tables VI-VII shape)",
           "face_dface": "FSBase / SSBase / SSGAN, CK+ with the paper's Dface embeddings",
           "speech_whisper": "FSBase / SSBase / SSGAN, RAVDESS speech on Whisper-base features (backbone rows)",
           "face_mobilenet": "FSBase / SSBase / SSGAN, FER2013 on the VGGFace2 MobileNet backbone (backbone rows)"}
for _s, _what in _GROUPS.items():
    register_group(f"ssgan/table/{_s}", [f"ssgan/{_s}/frac10", f"ssgan/{_s}/frac20", f"ssgan/{_s}/frac50"],
                   f"Liang, Chen, Jin 2019 at 10/20/50 % labels: {_what}; CPU preset",
                   doc="docs/methods/ssgan.md")
for _s in ("speech", "face"):
    register_group(f"ssgan/table_paper/{_s}", [f"ssgan/{_s}/frac{f}/paper" for f in (10, 20, 50)],
                   f"Liang, Chen, Jin 2019: the {_s} table at the paper's sizes", doc="docs/methods/ssgan.md")
register_group("ssgan/ablation/unlabelled", ["ssgan/ablation/unlabelled/mfsbase"]
               + [f"ssgan/ablation/unlabelled/x{u:g}" for u in UNLABELLED_RATIOS],
               "Liang, Chen, Jin 2019, sec. V-A / Fig. 6: MSSGAN with 0x..3x unlabelled pairs (RAVDESS AV, 10 % "
               "labelled), MFSBase beside; CPU preset", doc="docs/methods/ssgan.md", kind="study")
register_group("ssgan/ablation/normalisation", [f"ssgan/ablation/normalisation/{n}"
                                                for n in ("none", "self", "shift", "combine")],
               "Liang, Chen, Jin 2019, sec. V-B / Fig. 7: normalisation of the unlabelled data (SSGAN dense, RAVDESS "
               "eGeMAPS 20 % labelled, EmoDB + CASIA unlabelled); CPU preset", doc="docs/methods/ssgan.md",
               kind="study")
