"""gunicorn entry point: `gunicorn -c gateway/gunicorn_conf.py gateway.wsgi:app`."""

from common.logging import configure_logging
from gateway import create_app
from gateway.request_ids import log_context
from gateway.settings import Settings

settings = Settings.from_env()
configure_logging("gateway", settings.log_level, log_context)
app = create_app(settings)
