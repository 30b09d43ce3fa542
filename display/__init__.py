"""OLED screens: pure ``render(state) -> PIL.Image`` functions and one thin luma adapter.

Filled in by issue [3 of 4]; nothing here yet.
"""
