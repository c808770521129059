"""gunicorn entry point: `gunicorn -c gateway/gunicorn_conf.py gateway.wsgi:app`."""

from common.config import env_str
from common.logging import configure_logging
from gateway import create_app
from gateway.request_ids import log_context

configure_logging("gateway", env_str("NIL_LOG_LEVEL", "INFO") or "INFO", log_context)
app = create_app()
