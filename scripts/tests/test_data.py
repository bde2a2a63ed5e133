import numpy as np

from edgeclip_train import data


def test_same_seed_same_images_and_captions() -> None:
    a, b = data.generate(20, 7, data.train_combos()), data.generate(20, 7, data.train_combos())
    assert a == b
    assert data.captions(a, 3) == data.captions(b, 3)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(np.asarray(data.render(x)), np.asarray(data.render(y)))
    assert data.generate(20, 8, data.train_combos()) != a


def test_heldout_combinations_never_in_training_data() -> None:
    held = set(data.HELDOUT_COMBOS)
    samples = data.generate(3000, 0, data.train_combos())
    assert not {(s.colour, s.shape) for s in samples} & held
    # every colour and every shape is still seen in training, and neither attribute alone names a held-out label
    assert {s.colour for s in samples} == set(data.COLOURS)
    assert {s.shape for s in samples} == set(data.SHAPES)
    for colour in data.COLOURS:
        assert sum(c == colour for c, _ in held) >= 2
    for shape in data.SHAPES:
        assert sum(s == shape for _, s in held) >= 2


def test_heldout_samples_only_heldout_and_balanced() -> None:
    samples = data.heldout_samples(len(data.HELDOUT_COMBOS) * 3, 1)
    assert {(s.colour, s.shape) for s in samples} == set(data.HELDOUT_COMBOS)


def test_captions_name_colour_and_shape() -> None:
    samples = data.generate(50, 2, data.train_combos())
    for s, c in zip(samples, data.captions(samples, 0), strict=True):
        assert s.colour in c and s.shape in c


def test_render_size_and_mode() -> None:
    img = data.render(data.generate(1, 0, data.train_combos())[0])
    assert img.size == (data.CANVAS, data.CANVAS) and img.mode == "RGB"
