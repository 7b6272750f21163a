"""Cunbo's HTTP layer: the application factory. Each subsystem plugs in with ``init_app(app)``."""
from __future__ import annotations

from typing import Any

from flask import Flask

from app.config import BASE_DIR, Config


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    """Build the app from ``config`` (a Config instance or a mapping), else from the environment."""
    app = Flask(
        __name__,
        static_folder=str(BASE_DIR / "static"),
        static_url_path="/static",
    )
    if config is None:
        config = Config()
    app.config.from_mapping(config.as_dict() if isinstance(config, Config) else config)

    from app import cli, database, demo, errors, i18n, inputs, security

    inputs.init_app(app)
    database.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    demo.init_app(app)

    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.main import bp as main_bp
    from app.users import bp as users_bp
    from app.catalog import bp as catalog_bp
    from app.orders import bp as orders_bp
    from app.handoffs import bp as handoffs_bp
    from app.contests import bp as contests_bp
    from app import broadcasts, live, site

    live.init_app(app)
    broadcasts.init_app(app)
    site.init_app(app)

    # Each area adds its blueprint here (one line each).
    for blueprint in (main_bp, auth_bp, api_bp, users_bp, catalog_bp, orders_bp, handoffs_bp, contests_bp, live.bp,
                      broadcasts.bp, site.bp):
        app.register_blueprint(blueprint)
    return app
