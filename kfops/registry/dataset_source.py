"""An MLflow dataset source for ``dvc://`` URIs, so a run's dataset input names its revision.

MLflow resolves a plain string source through its own resolvers, which know files, HTTP
and cloud stores but not DVC. Registering this class lets runs record ``dvc://`` inputs
with the commit read, and ``mlflow.data.get_source(dataset).load()`` read them again.
"""

from __future__ import annotations

from typing import Any

from mlflow.data.dataset_source import DatasetSource
from mlflow.data.dataset_source_registry import register_dataset_source

SOURCE_TYPE = "dvc"
PREFIX = "dvc://"


class DvcDatasetSource(DatasetSource):
    """A file in a DVC repository at one revision: the URI as given and the commit read."""

    def __init__(self, uri: str, revision: str = "") -> None:
        self.uri = uri
        self.revision = revision

    @property
    def pinned_uri(self) -> str:
        """The URI with its revision replaced by the commit: ``dvc://data/a.csv@3f2c...``."""
        if not self.revision:
            return self.uri
        return f"{self.uri.rpartition('@')[0]}@{self.revision}"

    @staticmethod
    def _get_source_type() -> str:
        return SOURCE_TYPE

    def load(self) -> Any:
        """The whole dataset at the recorded commit, as a pandas DataFrame."""
        from kfops.data.ingest import read_dataset

        return read_dataset(self.pinned_uri)

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return isinstance(raw_source, str) and raw_source.lower().startswith(PREFIX)

    @classmethod
    def _resolve(cls, raw_source: Any) -> DvcDatasetSource:
        return cls(str(raw_source))

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "revision": self.revision}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> DvcDatasetSource:
        return cls(str(source_dict["uri"]), str(source_dict.get("revision", "")))


register_dataset_source(DvcDatasetSource)


def dataset_source(uri: str, revision: str = "") -> DatasetSource | str:
    """What ``mlflow.data.from_pandas`` takes as the source of the dataset at ``uri``."""
    return DvcDatasetSource(uri, revision) if DvcDatasetSource._can_resolve(uri) else uri
