"""Tests mirroring the packages.

A package, so that pytest imports tests/test_layout.py as tests.test_layout instead of
putting tests/ on sys.path, where tests/planner/ would shadow the real planner package.
"""
