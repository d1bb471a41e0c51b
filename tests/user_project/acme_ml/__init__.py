"""An ML engineer's own package, held apart from kfops: a transformer and two steps."""
