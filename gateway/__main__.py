"""`python -m gateway`: serve the API with gunicorn, configured by gateway/gunicorn_conf.py
(which also starts the runner supervisor for the local and docker backends)."""

import os
import sys
from pathlib import Path

config = Path(__file__).with_name("gunicorn_conf.py")
os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(config), "gateway.wsgi:app"])
