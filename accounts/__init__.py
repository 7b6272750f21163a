"""People who use Cunbo: users, roles, PINs, API tokens and login throttling. No Flask here."""
