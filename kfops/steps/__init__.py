"""Executors of the pipeline steps: what each KFP component calls.

A step takes plain values and file paths, calls the stage packages, and returns plain
values, so it runs the same under KFP, under the local runner and in a unit test.
"""
