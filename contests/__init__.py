"""Livestream sales contests (直播大赛): who takes part, the rules, and standings derived from orders."""
