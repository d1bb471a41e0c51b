"""Alertmanager's webhook payload (version 4), as much of it as a trigger reads.

Extra fields are kept (Alertmanager adds some across versions); missing required ones
are a 400 for the sender, never a run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class AlertGroup(BaseModel):
    """One notification: the alerts of one group, as Alertmanager batched them."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    version: str = "4"
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_key: str = Field("", alias="groupKey")
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    alerts: list[Alert]

    def firing(self, names: frozenset[str]) -> list[Alert]:
        """The group's firing alerts among ``names`` (every firing alert when empty)."""
        return [a for a in self.alerts if a.status == "firing" and (not names or a.name in names)]
