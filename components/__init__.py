"""KFP component definitions: each is a thin wrapper over a ``kfops.steps`` executor.

Every module exposes the component function and ``build(image)``; the image is chosen
when a pipeline is compiled (``cluster.image`` / ``cluster.images`` in kfops.yaml).
"""

from __future__ import annotations

from collections.abc import Callable

from kfp import dsl


def make_component(func: Callable, image: str):
    # The image already holds kfp and kfops; installing kfp at start-up would need the network.
    return dsl.component(func, base_image=image, install_kfp_package=False)
