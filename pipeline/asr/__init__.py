"""Speech recognition: the Engine protocol, engines, and the bundled-model registry."""
