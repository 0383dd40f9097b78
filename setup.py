"""Installable VideoMamba research framework (models, ops, data, engines)."""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(HERE, "videomamba", "version.py")) as f:
        return re.search(r'__version__ = "([^"]+)"', f.read()).group(1)


def read_requirements():
    reqs = []
    with open(os.path.join(HERE, "requirements.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                reqs.append(line)
    return reqs


setup(
    name="videomamba",
    version=read_version(),
    description="VideoMamba (bidirectional Mamba for video understanding): models, kernels, training",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["videomamba", "videomamba.*"]),
    include_package_data=True,
    install_requires=read_requirements(),
    extras_require={
        # Optional fast CUDA backend: the official kernels (needs a CUDA toolchain to build).
        "cuda": ["mamba-ssm>=2.0", "causal-conv1d>=1.2"],
        "deepspeed": ["deepspeed>=0.13"],
        "retrieval": ["transformers>=4.36"],
        "dev": ["pytest>=7", "pytest-timeout", "scikit-video"],
    },
    entry_points={
        "console_scripts": [
            "videomamba-train=videomamba.cli:train_main",
            "videomamba-test=videomamba.cli:test_main",
            "videomamba-inference=videomamba.cli:inference_main",
            "videomamba-env=videomamba.env:main",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
