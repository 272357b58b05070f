"""Klaster's web layer: Litestar app, Jinja2 + htmx pages, JSON API, WebSocket feed."""
