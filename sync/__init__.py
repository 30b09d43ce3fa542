"""Sessions kept crash-safe on the device and delivered to the FretCoach Hub exactly once.

``store`` holds sessions and the outbox and ``worker`` drains it through ``client``; the
reference Hub that ``fretcoach hub serve`` runs lives here too.
"""
