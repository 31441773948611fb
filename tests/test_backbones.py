import hashlib
import shutil

import pytest
import torch

from course_utils import backbones, shapes


def test_course_weights_load_into_torchvision_resnet18():
    model = backbones.load_backbone("resnet18", weights="course")
    assert type(model).__name__ == "ResNet" and not model.training
    assert model.fc.in_features == 512 and model.fc.out_features == 24
    assert model.class_names == shapes.SOURCE_CLASSES


def test_course_weights_recognise_source_shapes():
    from course_utils.data import source_data

    model = backbones.load_backbone()
    x, y = source_data(per_class=8, seed=12345).tensors()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc > 0.85, f"pretrained backbone only {acc:.2f} accurate on its own source task"


def test_manifest_matches_file():
    path = backbones.course_weights_path()
    manifest = backbones.read_manifest()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest["sha256"]
    assert path.stat().st_size < 25e6


def test_random_init_differs_from_course_weights():
    torch.manual_seed(0)
    rand = backbones.load_backbone(weights=None)
    course = backbones.load_backbone()
    assert rand.fc.out_features == 24
    assert not torch.allclose(rand.conv1.weight, course.conv1.weight)


@pytest.fixture
def weights_copy(tmp_path, monkeypatch):
    for f in backbones.WEIGHTS_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setattr(backbones, "WEIGHTS_DIR", tmp_path)
    return tmp_path


def test_corrupt_weights_are_refused(weights_copy):
    path = weights_copy / backbones.COURSE_WEIGHTS["resnet18"]
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(backbones.WeightsError, match="corrupt"):
        backbones.load_backbone()


def test_missing_weights_say_how_to_fix(weights_copy):
    (weights_copy / backbones.COURSE_WEIGHTS["resnet18"]).unlink()
    with pytest.raises(backbones.WeightsError, match="course pretrain"):
        backbones.load_backbone()


def test_imagenet_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(backbones.WeightsError, match="never downloads"):
        backbones.load_backbone("resnet18", weights="imagenet")


def test_imagenet_from_a_populated_cache(tmp_path, monkeypatch):
    """Users with cached ImageNet weights get them; we fake the cache with weights we make."""
    import torchvision

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    url = torchvision.models.get_model_weights("resnet18").DEFAULT.url
    (tmp_path / "checkpoints").mkdir()
    torch.manual_seed(1)
    made = torchvision.models.resnet18()
    torch.save(made.state_dict(), tmp_path / "checkpoints" / url.rsplit("/", 1)[-1])
    loaded = backbones.load_backbone("resnet18", weights="imagenet")
    assert loaded.fc.out_features == 1000
    assert torch.equal(loaded.conv1.weight, made.conv1.weight)


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"weights": "imagenet21k"}, ValueError),
        ({"name": 18}, TypeError),
        ({"name": "vgg11"}, ValueError),
    ],
)
def test_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        backbones.load_backbone(**kwargs)
