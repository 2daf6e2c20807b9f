"""Maps the repo's top-level folders onto the import names lrdif.sdk / lrdif.export / lrdif.training.

`lrdif` itself is a namespace package (no __init__), so the three parts install side by side.
"""
from setuptools import find_packages, setup

package_dir = {}
for top in ("sdk", "export", "training"):
    for sub in [top] + [f"{top}.{name}" for name in find_packages(top)]:
        package_dir[f"lrdif.{sub}"] = sub.replace(".", "/")

setup(
    packages=sorted(package_dir),
    package_dir=package_dir,
    package_data={name: ["*.onnx", "*.tflite", "*.npy", "*.npz", "*.pt", "*.json", "*.md", "*.png"] for name in package_dir},
    include_package_data=False,
)
