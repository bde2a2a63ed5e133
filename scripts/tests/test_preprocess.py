import numpy as np
from PIL import Image

from edgeclip_train.preprocess import ImagePreprocess, pixel_values, resize_and_crop


def _columns(w: int, h: int) -> Image.Image:
    """Each column x has value x in every channel, so the crop offset can be read off the output."""
    return Image.fromarray(np.tile(np.arange(w, dtype=np.uint8)[None, :, None], (h, 1, 3)))


def test_crop_offset_rounds_half_to_even() -> None:
    out = resize_and_crop(_columns(89, 64), ImagePreprocess())  # (89 - 64) / 2 = 12.5 -> 12, not 13
    assert out.shape == (64, 64, 3) and out[0, 0, 0] == 12
    out = resize_and_crop(_columns(91, 64), ImagePreprocess())  # 13.5 -> 14
    assert out[0, 0, 0] == 14


def test_shortest_edge_resize_size() -> None:
    rows = Image.fromarray(np.tile(np.arange(96, dtype=np.uint8)[:, None, None], (1, 72, 3)))
    out = resize_and_crop(rows, ImagePreprocess())  # 72x96 -> 64x85 (85.33), top = round(10.5) = 10
    ref = np.asarray(rows.resize((64, 85), Image.BICUBIC))[10:74]
    assert np.array_equal(out, ref)


def test_normalise_rgba_and_grey() -> None:
    cfg = ImagePreprocess()
    rgba = Image.new("RGBA", (64, 64), (255, 0, 128, 7))
    x = pixel_values(rgba, cfg)  # alpha is dropped, not composited
    assert x.shape == (3, 64, 64) and x.dtype == np.float32
    assert np.allclose(x[:, 0, 0], [(255 / 255 - 0.5) / 0.5, -1.0, (128 / 255 - 0.5) / 0.5], atol=1e-6)
    grey = pixel_values(Image.new("L", (64, 64), 51), cfg)
    assert np.allclose(grey[:, 5, 5], (51 / 255 - 0.5) / 0.5, atol=1e-6)
