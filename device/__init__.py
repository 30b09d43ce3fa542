"""The daemon and command line: audio in, session lifecycle, configuration, ``fretcoach``."""
