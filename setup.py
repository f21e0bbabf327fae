from setuptools import find_packages, setup

setup(
    name="emozoo",
    version="0.1.0",
    description="TensorFlow/Keras model zoo for multimodal emotion recognition (speech, face, text)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["emozoo", "emozoo.*"]),
    install_requires=[
        "tensorflow~=2.21.0",
        "keras>=3.10,<4",
        "numpy>=1.26",
        "scipy>=1.11",
        "tensorboard>=2.21,<2.22",
        "tensorflow-metadata>=1.17",
        "soundfile>=0.12",
        "av>=12",
        "pillow>=10",
        "opensmile>=2.5",
        "mtcnn>=1.0",
        "matplotlib>=3.8",
        "tqdm>=4.60",
        "safetensors>=0.4",
    ],
    extras_require={
        # apache-beam: tests/extract/test_beam_extract.py (the --runner path); it pins protobuf<7,
        # pyarrow<26, pillow<13, all within tensorflow's and emozoo's ranges
        "test": ["pytest>=8", "librosa>=0.10", "tokenizers>=0.15", "apache-beam>=2.60"],
        "gpu": ["tensorflow[and-cuda]~=2.21.0"],
        "beam": ["apache-beam>=2.60"],
        # adapt: benchmarks/bench_dann.py times its DANN beside emozoo's (skipped without it);
        # ctranslate2: benchmarks/bench_backbones.py times the Whisper reference runtime beside the
        # Keras port (numpy + pyyaml only, no torch); never imported by emozoo itself
        "bench": ["adapt>=0.4.5", "ctranslate2>=4.5"],
        # mutmut: tools/mutation.sh (docs/testing.md)
        "mutation": ["mutmut>=3"],
    },
    entry_points={"console_scripts": [
        "emozoo-data=emozoo.data.__main__:main",
        "emozoo-validate=emozoo.validate.__main__:main",
        "emozoo-train=emozoo.train.__main__:main",
        "emozoo-evaluate=emozoo.evaluate.__main__:main",
        "emozoo-export=emozoo.export.__main__:main",
        "emozoo-predict=emozoo.predict.__main__:main",
        "emozoo-weights=emozoo.weights.__main__:main",
        "emozoo-publish=emozoo.publish.__main__:main",
        "emozoo-report=emozoo.report.__main__:main",
    ]},
)
