"""The test suite: shared fixtures in ``conftest.py``, helper processes in the other modules."""
