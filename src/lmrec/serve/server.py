"""Run the service under uvicorn; SIGHUP reloads the model in a background thread.

The service logs at INFO on ``lmrec.serve`` (an access line per request, a line per reload or
erasure) whatever the CLI's log level, and starts with a line that says who may read.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

import uvicorn

from lmrec.serve.app import create_app
from lmrec.serve.auth import reads_open_line
from lmrec.serve.config import ServeConfig
from lmrec.serve.models import ModelHolder

__all__ = ["run_server"]

logger = logging.getLogger(__name__)


def _reload_in_background(holder: ModelHolder) -> None:
    def work() -> None:
        try:
            holder.reload()
        except Exception:  # the old model keeps serving; say why the new one did not load
            logger.exception(
                "SIGHUP reload of %s failed; still serving the old model", holder.model_dir
            )

    threading.Thread(target=work, name="lmrec-reload", daemon=True).start()


def run_server(
    config: ServeConfig, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning"
) -> None:
    """Load the model, open the store and serve until SIGINT/SIGTERM."""
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("lmrec.serve").setLevel(logging.INFO)
    print(f"lmrec serve on http://{host}:{port}/: {reads_open_line(config)}", file=sys.stderr)
    holder = ModelHolder(config.model_dir)
    holder.ensure_loaded()  # fail before binding the port if the model directory is bad
    app = create_app(config, holder=holder)
    if hasattr(signal, "SIGHUP"):
        # uvicorn only captures SIGINT/SIGTERM; the handler must return fast, so it only
        # starts the reload thread.
        signal.signal(signal.SIGHUP, lambda *_: _reload_in_background(holder))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    )
    server.run()
