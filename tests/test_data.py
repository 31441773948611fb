import numpy as np
import pytest
import torch

from course_utils import data, shapes


def test_generate_is_deterministic_and_balanced():
    x1, y1 = shapes.generate(shapes.TARGET_CLASSES, 6, seed=3)
    x2, y2 = shapes.generate(shapes.TARGET_CLASSES, 6, seed=3)
    assert x1.dtype == np.uint8 and x1.shape == (30, 3, 32, 32)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert np.bincount(y1).tolist() == [6] * 5
    x3, _ = shapes.generate(shapes.TARGET_CLASSES, 6, seed=4)
    assert not np.array_equal(x1, x3)


def test_source_and_target_classes_are_disjoint():
    assert len(shapes.SOURCE_CLASSES) == 24 and len(shapes.TARGET_CLASSES) == 5
    assert not set(shapes.SOURCE_CLASSES) & set(shapes.TARGET_CLASSES)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"classes": ["nope"], "per_class": 2, "seed": 0}, "unknown target classes"),
        ({"classes": ["daisy"], "per_class": 0, "seed": 0}, "per_class must be an integer >= 1"),
        ({"classes": ["daisy"], "per_class": 2, "seed": 0, "family": "x"}, "family must be"),
    ],
)
def test_generate_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shapes.generate(**kwargs)


def test_target_splits_are_stratified_and_do_not_overlap():
    s = data.target_splits(train_per_class=8, val_per_class=4, test_per_class=6, seed=1)
    assert [len(s.train), len(s.val), len(s.test)] == [40, 20, 30]
    assert np.bincount(s.test.labels).tolist() == [6] * 5
    assert s.train.classes == shapes.TARGET_CLASSES
    assert data.find_leakage(s.train, s.test) == []
    x, y = s.train.tensors()
    assert x.dtype == torch.float32 and x.shape == (40, 3, 32, 32) and y.dtype == torch.int64
    img, label = s.train[0]
    assert torch.equal(img, x[0]) and label == int(y[0])


def test_target_splits_bad_counts():
    with pytest.raises(ValueError, match="train_per_class must be an integer >= 1, got 0"):
        data.target_splits(train_per_class=0)


def test_imbalanced_binary_has_the_requested_rare_positive():
    d = data.imbalanced_binary("daisy", positive_fraction=0.1, n=200, seed=0)
    assert len(d) == 200 and d.labels.sum() == 20
    assert d.classes == ("not daisy", "daisy")
    with pytest.raises(ValueError, match="positive must be one of"):
        data.imbalanced_binary("rose")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        data.imbalanced_binary(positive_fraction=1.0)


def test_leaky_split_is_found_by_find_leakage():
    s = data.target_splits(train_per_class=4, val_per_class=1, test_per_class=4, seed=2)
    leaky = data.leaky_split(s.train, s.test, fraction=0.5, seed=0)
    pairs = data.find_leakage(leaky, s.test)
    assert len(leaky) == 30 and len(pairs) == 10
    for i, j in pairs:
        assert np.array_equal(leaky.images[i], s.test.images[j])


def test_find_leakage_on_feature_rows():
    bc = data.breast_cancer(seed=0)
    train = np.concatenate([bc.x_train, bc.x_test[:3]])
    assert {j for _, j in data.find_leakage(train, bc.x_test)} >= {0, 1, 2}


def test_breast_cancer_marks_malignant_positive():
    bc = data.breast_cancer(seed=0)
    assert len(bc.y_train) + len(bc.y_test) == 569
    # 212 malignant cases in the Wisconsin data set: positive after relabelling.
    assert bc.y_train.sum() + bc.y_test.sum() == 212
    assert bc.classes == ("benign", "malignant")


def test_digits_split():
    d = data.digits(seed=0)
    assert d.x_train.shape[1] == 64 and len(d.y_train) + len(d.y_test) == 1797


def test_imageset_validates():
    img = np.zeros((2, 3, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        data.ImageSet(img, np.array([0, 1, 0]), ("a", "b"))
    with pytest.raises(ValueError, match="labels must lie in"):
        data.ImageSet(img, np.array([0, 2]), ("a", "b"))
    with pytest.raises(ValueError, match="uint8"):
        data.to_tensor(np.zeros((2, 3, 4, 4), np.float32))


def test_image_folder_reads_user_images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for k in range(3):
            Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{k}.png"
            )
    ds = data.image_folder(tmp_path, size=32)
    assert ds.classes == ("cat", "dog") and ds.images.shape == (6, 3, 32, 32)
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.image_folder(tmp_path / "missing")


def _folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for k in range(2):
            Image.fromarray(rng.integers(0, 255, (300, 280, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{k}.png"
            )
    return tmp_path


def test_image_folder_with_the_weights_preprocessing(tmp_path):
    # Building the weights' transforms downloads nothing: it only configures resize, crop, norm.
    from torchvision.models import ResNet18_Weights

    from course_utils import training

    root = _folder(tmp_path)
    weights = ResNet18_Weights.DEFAULT
    ds = data.image_folder(root, transform=weights.transforms())
    x, y = training.as_tensors(ds)
    assert x.shape == (4, 3, 224, 224) and x.dtype == torch.float32
    assert y.tolist() == [0, 0, 1, 1] and ds.classes == ("cat", "dog") and len(ds) == 4
    # ImageNet normalisation: uniform noise in [0, 1] has mean 0.5, so channel 0 is near
    # (0.5 - 0.485) / 0.229, far from the course normalisation's 0.
    assert abs(float(x[:, 0].mean()) - (0.5 - 0.485) / 0.229) < 0.05
    same = data.image_folder(root, transform=weights)  # the enum itself is accepted
    assert torch.equal(same.tensors()[0], x)
    assert "224x224" in repr(ds) and ds.num_classes == 2 and ds[0][0].shape == (3, 224, 224)


def test_image_folder_with_any_transform_and_its_errors(tmp_path):
    from torchvision.transforms import v2

    root = _folder(tmp_path)
    small = v2.Compose([v2.ToImage(), v2.Resize((64, 64)), v2.ToDtype(torch.float32, scale=True)])
    assert data.image_folder(root, transform=small).tensors()[0].shape == (4, 3, 64, 64)
    with pytest.raises(ValueError, match="not both"):
        data.image_folder(root, 64, transform=small)
    with pytest.raises(TypeError, match="callable"):
        data.image_folder(root, transform="imagenet")
    with pytest.raises(TypeError, match="float tensor"):
        data.image_folder(root, transform=v2.Resize((64, 64)))  # a PIL image, not a tensor
    assert data.image_folder(root).images.shape == (4, 3, 32, 32)  # the course default
