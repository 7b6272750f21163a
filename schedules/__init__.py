"""Broadcast plans, the live-session service and the scheduler that starts and stops them."""
