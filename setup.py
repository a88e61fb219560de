"""simpl_ros: an ament_python package that also installs with plain `pip install -e .`."""

import runpy
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE_NAME = "simpl_ros"
SHARED_FOLDERS = ("launch", "config", "models", "sim")
EXECUTABLES = runpy.run_path("simpl_ros/executables.py")  # node executables, without importing the package
NODES = {
    **EXECUTABLES["NODES"],
    **{old: EXECUTABLES["NODES"][new] for old, new in EXECUTABLES["RENAMED"].items()},
}  # old names too


def share_files(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries that mirror `folder` under share/simpl_ros/."""
    entries: dict[str, list[str]] = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            entries.setdefault(f"share/{PACKAGE_NAME}/{path.parent.as_posix()}", []).append(path.as_posix())
    return list(entries.items())


setup(
    name=PACKAGE_NAME,
    version="0.1.0",
    packages=find_packages(include=["simpl_core", "simpl_core.*", "simpl_ros", "simpl_ros.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE_NAME}"]),
        (f"share/{PACKAGE_NAME}", ["package.xml"]),
        *[entry for folder in SHARED_FOLDERS for entry in share_files(folder)],
    ],
    python_requires=">=3.10",
    install_requires=[
        "torch==2.13.0",  # exact: a range would pull a CUDA build
        "numpy>=2",
        "mujoco>=3.3,<3.12",  # 3.12+ breaks gymnasium-robotics' FrankaKitchen-v1
        "gymnasium>=1.1",
        "gymnasium-robotics>=1.4",
        "onnx",
        "onnxruntime",
        "pyyaml",
        "h5py",
        "rosbags",
        "matplotlib",
        "tqdm",
    ],
    zip_safe=False,
    maintainer="simpl_ros developers",
    maintainer_email="simpl-ros@example.org",
    description="Skill-based meta-reinforcement learning (SPiRL skills, SiMPL) served by ROS 2 nodes",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "simpl = simpl_core.cli:main",
            "simpl-ros = simpl_ros.cli:main",
            *[f"{name} = {module}:main" for name, module in NODES.items()],
        ]
    },
)
