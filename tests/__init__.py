"""The test suite; shared fixtures live in ``conftest.py``, helper processes in the non-``test_`` modules."""
