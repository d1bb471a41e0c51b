"""The ``kfops.yaml`` model: one file that describes a model's life.

Unknown keys are errors (as in Feast's repo config) so a typo never silently falls back
to a default. One module per concern:

- ``sections``: data, validation, features, model, registry, tracking, runtime, cluster;
- ``tuning``: the ``tuning:`` section and Katib's rules;
- ``serving``: the model server and its InferenceService;
- ``rollout``: the ``rollout:`` plan, the same shape as a ModelRollout's spec;
- ``root``: :class:`KfopsConfig`, every section together;
- ``loading``: reading the file, ``--set`` overrides, paths made absolute;
- ``kfp_struct``: the round trip through a KFP struct parameter;
- ``portable``: the form a pod receives, with no path of the submitting machine.
"""

from kfops.config.kfp_struct import (
    DATA_SECTIONS,
    config_from_dict,
    config_to_dict,
    data_config_to_dict,
)
from kfops.config.loading import (
    apply_override,
    load_config,
    parse_override,
)
from kfops.config.portable import (
    EMBED_LIMIT,
    POD_STATE_DIR,
    cluster_config,
    is_local,
)
from kfops.config.rollout import (
    RolloutPlan,
    RolloutSpec,
)
from kfops.config.root import (
    BUILTIN_STEPS,
    KfopsConfig,
)
from kfops.config.sections import (
    CONFIG_FILENAME,
    DEFAULT_ESTIMATORS,
    STATE_DIRNAME,
    ClusterConfig,
    ComponentResources,
    DataConfig,
    DataFormat,
    FeaturesConfig,
    ModelConfig,
    PreprocessingStep,
    RegistryConfig,
    RuntimeConfig,
    SplitConfig,
    StepPoint,
    Strict,
    TaskType,
    TrackingConfig,
    UserStepConfig,
    ValidationConfig,
)
from kfops.config.serving import (
    InferenceLogConfig,
    ServingAutoscaling,
    ServingConfig,
    ServingResources,
)
from kfops.config.tuning import (
    KATIB_ALGORITHM_SETTINGS,
    EarlyStopping,
    FeasibleSpace,
    KatibAlgorithm,
    ParameterType,
    TuningAlgorithm,
    TuningBackend,
    TuningConfig,
    TuningObjective,
    TuningParameter,
    katib_string,
)

__all__ = [
    "BUILTIN_STEPS",
    "CONFIG_FILENAME",
    "ClusterConfig",
    "ComponentResources",
    "DATA_SECTIONS",
    "DEFAULT_ESTIMATORS",
    "EMBED_LIMIT",
    "DataConfig",
    "DataFormat",
    "EarlyStopping",
    "FeasibleSpace",
    "FeaturesConfig",
    "InferenceLogConfig",
    "KATIB_ALGORITHM_SETTINGS",
    "KatibAlgorithm",
    "KfopsConfig",
    "ModelConfig",
    "PreprocessingStep",
    "StepPoint",
    "UserStepConfig",
    "POD_STATE_DIR",
    "ParameterType",
    "RegistryConfig",
    "RolloutPlan",
    "RolloutSpec",
    "RuntimeConfig",
    "STATE_DIRNAME",
    "ServingAutoscaling",
    "ServingConfig",
    "ServingResources",
    "SplitConfig",
    "Strict",
    "TaskType",
    "TrackingConfig",
    "TuningAlgorithm",
    "TuningBackend",
    "TuningConfig",
    "TuningObjective",
    "TuningParameter",
    "ValidationConfig",
    "apply_override",
    "cluster_config",
    "config_from_dict",
    "config_to_dict",
    "data_config_to_dict",
    "is_local",
    "katib_string",
    "load_config",
    "parse_override",
]
