"""The HTTP API (/v1, documented at /openapi.json) and the web app (/), served by `lingxi serve`."""

from lingxi.api.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
