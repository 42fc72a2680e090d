"""Video clips (the ``kind[video]`` extra, PyAV): :mod:`kind.video.stream` enhances one clip, streamed."""
