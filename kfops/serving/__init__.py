"""The kfops model server: a KServe model server for registered scikit-learn models.

One data plane (check, complete, batch, infer) serves both inference protocols; the V1
and V2 codecs only translate. Modules import kserve through :mod:`kserve_import`.
"""
