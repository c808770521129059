"""The HTTP gateway: REST API, persistence, compilation outbox, execution dispatch."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.settings import Settings


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Build the app: settings as given, or from the environment overridden by `config`."""
    from gateway import auth, errors, metrics, platform, request_ids
    from gateway.api import executions, functions, revisions, routes, schedules, system

    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # OPTIONS is not part of the API (no CORS): a JSON 405 with Allow, like any method
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    # `//x` is not `/x`: no redirect (whose Location would echo the client's Host)
    app.url_map.merge_slashes = False
    request_ids.init_app(app)
    metrics.init_app(app)
    if settings.proxy_hops:  # the client's address is what the trusted proxies saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=0)
    errors.init_app(app)
    auth.init_app(app, settings, platform.init_app(app, settings))
    for blueprint in (
        functions.bp,
        revisions.bp,
        executions.bp,
        schedules.bp,
        routes.bp,
        system.bp,
    ):
        app.register_blueprint(blueprint)
    return app
