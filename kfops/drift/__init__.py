"""Drift and skew of served traffic: the inference log against training and itself.

``kfops drift`` and the ``drift`` component read the requests the model server logged
in a window (``window``), compute TFDV statistics of them in the TFDV runtime
(``tfdv_worker``, launched by ``runtime``) and compare them with the training statistics
stored with the serving version (``reference``; skew) and with the window before (drift).
``check`` puts it together, ``report`` renders the table, JSON and HTML, ``gauges`` sets
the Prometheus gauges. Nothing here is imported by the TFDV runtime except the worker.
"""
