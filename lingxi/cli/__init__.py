"""Command-line interface: one small module per command group, over lingxi.Library."""
