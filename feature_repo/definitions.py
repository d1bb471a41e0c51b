"""Feature definitions of the bundled churn example, read by kfops (and by ``feast apply``).

Every object below is registered by ``kfops.features.store.apply_definitions``; the
model's columns are the features of the ``churn_model_v1`` service, in its order.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

# A telecom customer; labels and features are joined on customer_id.
customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.STRING,
    description="A telecom customer.",
)

# Dated snapshots of every customer's account, written by generate.py (path relative to this repo).
customer_snapshots = FileSource(
    name="customer_snapshots",
    path="data/customer_features.parquet",
    timestamp_field="event_timestamp",
    description="Several dated snapshots per customer, some after the label's time.",
)

# Slow-moving attributes: a snapshot up to a year old still describes the customer.
customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=365),
    schema=[
        Field(name="age", dtype=Int64),
        Field(name="region", dtype=String),
        Field(name="contract", dtype=String),
        Field(name="payment_method", dtype=String),
        Field(name="internet_service", dtype=String),
    ],
    source=customer_snapshots,
    online=True,
    tags={"cadence": "slow"},
)

# Fast-moving usage: older than 35 days (past the next monthly snapshot) it is unknown.
customer_activity = FeatureView(
    name="customer_activity",
    entities=[customer],
    ttl=timedelta(days=35),
    schema=[
        Field(name="tenure_months", dtype=Int64),
        Field(name="monthly_charges", dtype=Float64),
        Field(name="total_charges", dtype=Float64),
        Field(name="support_calls", dtype=Int64),
        Field(name="num_products", dtype=Int64),
    ],
    source=customer_snapshots,
    online=True,
    tags={"cadence": "fast"},
)

# The churn model's inputs, version 1: what training reads and what serving looks up.
churn_model_v1 = FeatureService(
    name="churn_model_v1",
    features=[customer_activity, customer_profile],
    description="Inputs of the churn classifier.",
)
