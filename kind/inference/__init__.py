"""Running the networks: the runner (device, precision), the fused CPU path, the pipelines, and
tiling for large photos."""
