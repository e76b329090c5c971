"""The torch backend: run an ``nn.Module`` (or weights / a checkpoint) eagerly, as the reference for every export."""
