"""The live feed: channels in, WebSocket clients out."""
