"""A Feast repo that arrived as text (``features.files``, set by ``kfops submit``) written
back into a folder, so that the pod's features step opens it like a committed repo."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from kfops.config import FeaturesConfig
from kfops.errors import FeaturesError


def write_repo(features: FeaturesConfig, parent: Path) -> FeaturesConfig:
    """Write ``features.files`` under ``parent/<repo name>``; the section, pointing there.

    Paths must stay inside the folder: an absolute path or ``..`` is refused.
    """
    assert features.files is not None
    folder = parent / (PurePosixPath(features.repo).name or "feature_repo")
    for relative, text in features.files.items():
        path = PurePosixPath(relative)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise FeaturesError(
                f"features.files: '{relative}' is not a path inside the repo; "
                "resubmit with kfops submit, which writes relative paths"
            )
        target = folder.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return features.model_copy(update={"repo": str(folder), "files": None})
