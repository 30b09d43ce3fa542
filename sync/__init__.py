"""Crash-safe session store, outbox and the Hub API client and reference server.

Filled in by issue [2 of 4]; nothing here yet.
"""
