"""``kind app`` running, driven through its API with ``gradio_client``: ``/enhance`` gives the PNG
``kind enhance --ratio R`` writes, byte for byte; ``/decompose`` the maps of ``--save-maps``; bad
input gets a message naming it; the app leaves nothing behind. Random weights, tiny images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


from kind.app.browser import running_app
from kind.cli import main

pytest.importorskip("gradio", reason="the app tests need Gradio: pip install 'kind[app]'")
client_module = pytest.importorskip("gradio_client", reason="the API tests need gradio_client (pip install 'kind[test]')")

pytestmark = pytest.mark.slow


def _photo(path: Path, seed: int = 0, size: tuple[int, int] = (48, 36)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(5, 70, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _kind_enhance(image: Path, out: Path, weights: Path, *options: str) -> Path:
    assert main(["enhance", str(image), "-o", str(out), "--weights", str(weights), "--device", "cpu", "--quiet",
                 *options]) == 0
    return out / (image.stem + ".png")


@pytest.fixture(scope="module")
def app(tmp_path_factory, weights_dir):
    temp = tmp_path_factory.mktemp("app") / "tmp"
    with running_app(temp, "--weights", str(weights_dir), "--device", "cpu", "--max-upload-mb", "1") as url:
        yield url, client_module.Client(url, verbose=False)
    assert list(temp.iterdir()) == []  # the app's temporary folder is gone once it stops


def test_only_the_two_endpoints_are_listed(app):
    _, client = app
    assert set(client.view_api(return_format="dict", print_info=False)["named_endpoints"]) == {"/enhance", "/decompose"}


@pytest.mark.parametrize("ratio, option", [(3.5, "3.5"), ("2", "2"), ("auto", "auto")])
def test_enhance_returns_kind_enhances_png(app, weights_dir, tmp_path, ratio, option):
    _, client = app
    image = _photo(tmp_path / "in" / "dark.png")
    result = client.predict(client_module.handle_file(str(image)), ratio, api_name="/enhance")
    assert Path(result).read_bytes() == _kind_enhance(image, tmp_path / "cli", weights_dir, "--ratio", option).read_bytes()


def test_decompose_returns_the_maps(app, weights_dir, tmp_path):
    _, client = app
    image = _photo(tmp_path / "in" / "dark.png", seed=2)
    reflectance, illumination = client.predict(client_module.handle_file(str(image)), api_name="/decompose")
    _kind_enhance(image, tmp_path / "cli", weights_dir, "--save-maps")
    assert Path(reflectance).read_bytes() == (tmp_path / "cli" / "dark_R.png").read_bytes()
    assert Path(illumination).read_bytes() == (tmp_path / "cli" / "dark_L.png").read_bytes()


def test_bad_input_gets_a_message(app, tmp_path):
    _, client = app
    image = _photo(tmp_path / "in" / "dark.png")
    with pytest.raises(Exception, match="ratio: expected a number or 'auto'"):
        client.predict(client_module.handle_file(str(image)), "bright", api_name="/enhance")
    broken = tmp_path / "in" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(Exception, match="broken.png: "):
        client.predict(client_module.handle_file(str(broken)), 2.0, api_name="/enhance")
    big = tmp_path / "in" / "big.png"
    big.write_bytes(b"\0" * (2 * 1024 * 1024))  # over --max-upload-mb 1: refused on upload
    with pytest.raises(Exception):
        client.predict(client_module.handle_file(str(big)), 2.0, api_name="/enhance")
    with pytest.raises(Exception, match="image: an image file is required"):
        client.predict(None, 2.0, api_name="/enhance")
    with pytest.raises(Exception, match="image: an image file is required"):
        client.predict(None, api_name="/decompose")
    # the app still answers
    assert Path(client.predict(client_module.handle_file(str(image)), 1.0, api_name="/enhance")).stat().st_size > 0
