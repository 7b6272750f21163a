"""Orders, hand-offs to the aid partner and their manifests."""
