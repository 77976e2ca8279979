"""xpgrad.events writes TensorBoard event files without tensorboardX: checked here against
tensorboardX's own CRC-32C and generated protobuf classes (TensorBoard's schema), and the
images against a PNG decoder."""
import io
import os
import random
import struct

import numpy as np
import pytest

from xpgrad.events import EventWriter, _masked_crc, crc32c, png_grayscale
from xpgrad.report import RunWriter, image_grid


def _records(path):
    """(data, crc ok) of each TFRecord in ``path``."""
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos < len(data):
        (n,) = struct.unpack("<Q", data[pos:pos + 8])
        (crc_len,) = struct.unpack("<I", data[pos + 8:pos + 12])
        body = data[pos + 12:pos + 12 + n]
        (crc_body,) = struct.unpack("<I", data[pos + 12 + n:pos + 16 + n])
        out.append((body, crc_len == _masked_crc(data[pos:pos + 8])
                    and crc_body == _masked_crc(body)))
        pos += 16 + n
    assert pos == len(data)
    return out


def _events(path):
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    records = _records(path)
    assert all(ok for _, ok in records)
    return [event_pb2.Event.FromString(body) for body, _ in records]


def test_crc32c_is_tensorboardx_s():
    tbx = pytest.importorskip("tensorboardX.crc32c")
    rng = random.Random(0)
    for n in (0, 1, 7, 8, 9, 64, 1000):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crc32c(data) == tbx.crc32c(data)
    assert crc32c(b"123456789") == 0xE3069283


def test_scalars_image_and_text_parse_with_tensorboards_schema(tmp_path):
    image = (np.arange(12).reshape(3, 4) * 20).astype(np.uint8)
    with EventWriter(tmp_path) as w:
        w.add_scalar("loss/train", 0.25, step=1)
        w.add_scalar("loss/train_step", np.float32(0.1), step=2**40)      # int64 steps
        w.add_scalar("odd", -3.5, step=-2)                                 # negative varint
        w.add_image("inputs", image, step=3)
        w.add_text("config", "lr: 0.001\nbatch: ünïcode")
    (path,) = [p for p in tmp_path.iterdir()]
    assert path.name.startswith("events.out.tfevents.")
    first, *events = _events(path)
    assert first.file_version == "brain.Event:2"
    values = [(e.step, v) for e in events for v in e.summary.value]
    assert [(s, v.tag) for s, v in values] == [
        (1, "loss/train"), (2**40, "loss/train_step"), (-2, "odd"), (3, "inputs"),
        (0, "config/text_summary")]
    assert values[0][1].simple_value == 0.25 and values[2][1].simple_value == -3.5
    assert values[1][1].simple_value == pytest.approx(0.1)
    img = values[3][1].image
    assert (img.height, img.width, img.colorspace) == (3, 4, 1)
    Image = pytest.importorskip("PIL.Image")
    decoded = np.asarray(Image.open(io.BytesIO(img.encoded_image_string)))
    np.testing.assert_array_equal(decoded, image)
    text = values[4][1]
    assert text.metadata.plugin_data.plugin_name == "text"
    assert text.tensor.string_val == ["lr: 0.001\nbatch: ünïcode".encode()]
    assert [d.size for d in text.tensor.tensor_shape.dim] == [1]
    assert all(e.wall_time > 1e9 for e in events)


def test_png_grayscale_decodes():
    Image = pytest.importorskip("PIL.Image")
    a = np.random.default_rng(0).integers(0, 256, (17, 31), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png_grayscale(a)))), a)
    with pytest.raises(ValueError, match="needs a 2-D array"):
        png_grayscale(np.zeros((2, 2, 3), np.uint8))


def test_two_writers_in_one_second_get_two_files_and_a_closed_one_refuses(tmp_path):
    a, b = EventWriter(tmp_path), EventWriter(tmp_path)
    assert a.path != b.path
    a.close()
    b.close()
    assert len(os.listdir(tmp_path)) == 2
    with pytest.raises(ValueError, match="is closed"):
        a.add_scalar("x", 1.0, 1)


def test_image_grid_frames_every_image():
    images = np.array([[0, 2, 2, 0], [2, 2, 2, 2], [0, 0, 0, 2]])     # three 2x2 images
    grid = image_grid(images, (2, 2), columns=2, padding=1, pad_value=0.5)
    assert grid.shape == (7, 7)
    assert (grid[0] == 0.5).all() and (grid[:, 0] == 0.5).all() and (grid[3] == 0.5).all()
    np.testing.assert_array_equal(grid[1:3, 1:3], [[0, 1], [1, 0]])    # scaled to [0, 1]
    np.testing.assert_array_equal(grid[1:3, 4:6], [[1, 1], [1, 1]])
    np.testing.assert_array_equal(grid[4:6, 1:3], [[0, 0], [0, 1]])
    assert (grid[4:6, 4:6] == 0.5).all()                                # no fourth image
    with pytest.raises(ValueError, match="padding must be >= 0"):
        image_grid(images, (2, 2), padding=-1)


def test_run_writer_writes_the_padded_grid(tmp_path):
    rng = np.random.default_rng(0)
    with RunWriter(tmp_path) as w:
        w.images("inputs/train_samples", rng.random((64, 64)), (8, 8))
    (path,) = list(tmp_path.iterdir())
    (_, event) = _events(path)
    img = event.summary.value[0].image
    assert (img.height, img.width) == (73, 73)           # 8 * (8 + 1) + 1
    Image = pytest.importorskip("PIL.Image")
    decoded = np.asarray(Image.open(io.BytesIO(img.encoded_image_string)))
    assert (decoded[0] == 128).all() and (decoded[:, 9] == 128).all()   # grey frame lines
    RunWriter(None).scalars({"x": 1.0}, 1)                # no log directory: writes nothing
