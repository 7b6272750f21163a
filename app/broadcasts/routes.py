"""Broadcast pages."""
