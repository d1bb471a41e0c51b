"""The ML engineer's own code: import it by dotted path, digest it, ship it inside pickles.

Their transformers and steps live in their project (next to ``kfops.yaml``) or in a
package installed in the image. Locally the project folder goes on ``sys.path``; the
fitted model then carries the user's classes by value (cloudpickle), so the evaluator,
``kfops serve`` and a notebook load it without the user's package installed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from typing import Any

from kfops.errors import ConfigurationError, one_line

# Modules whose code the fitted model refers to by name, as every other library does.
_BY_REFERENCE_ROOTS = frozenset({"sklearn", "numpy", "pandas", "scipy", "kfops", "builtins"})


def add_code_root(code_root: str | None) -> None:
    """Put the project folder (the one holding kfops.yaml) first on ``sys.path``."""
    if code_root and Path(code_root).is_dir() and code_root not in sys.path:
        sys.path.insert(0, code_root)


def import_object(dotted: str, key: str, code_root: str | None = None) -> Any:
    """``package.module.Name`` imported; a failure is one line naming ``key`` and the fix."""
    add_code_root(code_root)
    module_name, _, attribute = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or the module's own error while importing
        raise ConfigurationError(
            f"{key}: cannot import module '{module_name}' for '{dotted}' ({one_line(exc)}); "
            "check the dotted path and that the package sits next to kfops.yaml or is installed"
        ) from exc
    found = getattr(module, attribute, None)
    if found is None:
        raise ConfigurationError(
            f"{key}: module '{module_name}' has no '{attribute}'; check the spelling"
        )
    return found


def carry_by_value(obj: Any) -> None:
    """Make cloudpickle store the code of ``obj``'s top-level package inside the pickle.

    A fitted Pipeline holding ``my_project.transformers.AddRatio`` then loads where
    ``my_project`` is not installed (the server's pod, a notebook); sklearn, pandas and
    kfops itself stay references, as they are installed wherever the model is loaded.
    """
    import cloudpickle

    root = (getattr(obj, "__module__", None) or "").partition(".")[0]
    if not root or root in _BY_REFERENCE_ROOTS or root not in sys.modules:
        return
    if root in sys.builtin_module_names or _is_installed_library(root):
        return
    cloudpickle.register_pickle_by_value(sys.modules[root])


def _is_installed_library(root: str) -> bool:
    """True for packages of site-packages (scikit-learn plug-ins, xgboost): pickled by name."""
    spec = importlib.util.find_spec(root)
    origin = (spec.origin or "") if spec else ""
    return "site-packages" in origin or "dist-packages" in origin


def code_digest(dotted: str, code_root: str | None = None) -> str:
    """SHA-256 of the source of the top-level package (or module) ``dotted`` lives in.

    Every ``.py`` file of the package counts, so an edit to a helper the step imports
    changes the digest too. Found without importing the code (only its location is
    looked up), so compiling a pipeline runs none of the user's code. Empty when the code
    is not found here (it is then installed only in the cluster's image).
    """
    root = dotted.partition(".")[0]
    # The path finder, not find_spec: a module imported earlier in this process must not
    # stand in for the files as they are now.
    search = [code_root, *sys.path] if code_root else list(sys.path)
    try:
        spec = importlib.machinery.PathFinder.find_spec(root, search)
    except (ImportError, ValueError):
        return ""
    if spec is None:
        return ""
    if spec.submodule_search_locations:
        files = sorted(
            path
            for folder in spec.submodule_search_locations
            for path in Path(folder).rglob("*.py")
        )
    elif spec.origin and Path(spec.origin).is_file():
        files = [Path(spec.origin)]
    else:
        return ""
    base = files[0].parent if not spec.submodule_search_locations else None
    digest = hashlib.sha256()
    for path in files:
        # The path inside the package counts too: moving code between files is an edit.
        folder = base or next(
            Path(f) for f in spec.submodule_search_locations or () if path.is_relative_to(f)
        )
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
