from pathlib import Path

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


def test_find_leakage_on_images():
    s = data.target_splits(train_per_class=4, val_per_class=1, test_per_class=4, seed=2)
    leaked = np.random.default_rng(0).choice(len(s.test), size=10, replace=False)
    leaky = data.ImageSet(
        np.concatenate([s.train.images, s.test.images[leaked]]),
        np.concatenate([s.train.labels, s.test.labels[leaked]]),
        s.train.classes,
    )
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


# --- Photo folders (lesson 8): lazy loading, odd files, stratified split without duplicates ---


@pytest.fixture(scope="module")
def photo_root(tmp_path_factory):
    from course_utils import photos

    root = tmp_path_factory.mktemp("photos") / "garden"
    return root, photos.make_photo_folder(root, per_class=8, seed=0, max_side=96)


def test_make_photo_folder_plants_every_odd_file_and_is_cached(photo_root, tmp_path):
    from PIL import Image

    from course_utils import photos

    root, odd = photo_root
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == list(photos.PHOTO_CLASSES)
    modes = {k: {Image.open(root / p).mode for p in odd[k]} for k in ("greyscale", "cmyk")}
    assert modes == {"greyscale": {"L"}, "cmyk": {"CMYK"}}
    assert {Image.open(root / p).mode for p in odd["palette"]} == {"P"}
    assert {Image.open(root / p).mode for p in odd["rgba"]} == {"RGBA"}
    assert all(Image.open(root / p).getexif()[0x0112] == 6 for p in odd["exif_rotated"])
    sizes = {Image.open(p).size for p in root.rglob("*_0[0-9][0-9].*")}
    assert len(sizes) > 20 and all(max(s) <= 96 and min(s) >= 16 for s in sizes)
    assert len({round(w / h, 1) for w, h in sizes}) > 5  # varied aspect ratios, both ways
    a, b = odd["exact_duplicates"][:2]
    assert (root / a).read_bytes() == (root / b).read_bytes()
    assert len(odd["near_duplicates"]) == 6 and len(odd["corrupt"]) == len(odd["not_image"]) == 1
    # Same arguments: reused without writing; the files are byte-identical when rebuilt elsewhere.
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert photos.make_photo_folder(root, per_class=8, seed=0, max_side=96) == odd
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    again = tmp_path / "again"
    photos.make_photo_folder(again, per_class=8, seed=0, max_side=96)
    assert all((again / p).read_bytes() == (root / p).read_bytes() for p in odd["cmyk"])
    with pytest.raises(FileExistsError, match="not made by make_photo_folder"):
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "holiday.jpg").write_bytes(b"x")
        photos.make_photo_folder(tmp_path / "mine")


def test_photo_folder_reads_every_odd_file_upright_in_rgb(photo_root):
    from PIL import Image

    root, odd = photo_root
    with pytest.warns(UserWarning, match=r"skipped 2 file\(s\)") as caught:
        folder = data.PhotoFolder(root, verify="decode")
    message = str(caught[0].message)
    assert odd["corrupt"][0] in message and odd["not_image"][0] in message
    assert [Path(p).name for p, _ in folder.skipped] == ["bark_truncated.jpg", "notes.txt"]
    assert folder.classes == ("bark", "bricks", "clouds", "gravel", "ripples")
    index = {str(Path(p).relative_to(root)): i for i, (p, _) in enumerate(folder.samples)}
    for kind in ("greyscale", "rgba", "palette", "cmyk", "exif_rotated"):
        for rel in odd[kind]:
            image, label = folder[index[rel]]
            assert image.mode == "RGB" and folder.classes[label] == rel.split("/")[0]
    rel = odd["exif_rotated"][0]
    stored = Image.open(root / rel).size
    assert folder[index[rel]][0].size == stored[::-1]  # turned back upright
    # Transparent pixels are laid on white, as a viewer shows them, not on black.
    rgba = Image.open(root / odd["rgba"][0])
    assert rgba.getpixel((0, 0))[3] < 255
    assert folder[index[odd["rgba"][0]]][0].getpixel((0, 0))[0] >= rgba.getpixel((0, 0))[0]


def test_photo_folder_errors_name_the_file(photo_root):
    root, odd = photo_root
    with pytest.raises(data.UnreadableImageError, match="notes.txt.*on_error='skip'"):
        data.PhotoFolder(root, on_error="raise")
    with pytest.warns(UserWarning, match="notes.txt"):
        fast = data.PhotoFolder(root)  # header only: misses truncation
    bad = [i for i, (p, _) in enumerate(fast.samples) if p.endswith(odd["corrupt"][0])]
    with pytest.raises(data.UnreadableImageError, match="bark_truncated.jpg.*verify='decode'"):
        fast[bad[0]]
    with pytest.raises(ValueError, match="on_error must be 'skip' or 'raise', got 'ignore'"):
        data.PhotoFolder(root, on_error="ignore")
    with pytest.raises(ValueError, match="verify must be"):
        data.PhotoFolder(root, verify="all")


def test_photo_folder_is_lazy_and_takes_any_transform(photo_root):
    from torchvision.transforms import v2

    root, _ = photo_root
    opened = []
    tf = v2.Compose([v2.ToImage(), v2.Resize((40, 40)), v2.ToDtype(torch.float32, scale=True)])

    def counting(im):
        opened.append(im.size)
        return tf(im)

    with pytest.warns(UserWarning):
        folder = data.image_folder(root, transform=counting)
    assert len(opened) == 1  # the first image only, to check the transform's output
    x, y = folder[5]
    assert x.shape == (3, 40, 40) and len(opened) == 2 and y == folder.labels[5]
    assert "PhotoFolder(" in repr(folder) and "3x40x40" in repr(folder)
    with pytest.warns(UserWarning):
        small = data.image_folder(root, 24)  # the course default: in memory, all decoded
    assert small.images.shape[1:] == (3, 24, 24) and len(small) == len(folder) - 1


def test_split_folder_is_stratified_and_drops_exact_duplicates(photo_root):
    root, odd = photo_root
    with pytest.warns(UserWarning):
        folder = data.PhotoFolder(root, verify="decode")
    split = data.split_folder(folder, val_fraction=0.25, test_fraction=0.25, seed=1)
    parts = [split.train, split.val, split.test]
    assert not set(split.train) & set(split.val) and not set(split.val) & set(split.test)
    assert not set(split.train) & set(split.test)
    assert sum(map(len, parts)) == len(folder) - 2  # one copy of each duplicate pair dropped
    groups = sorted(sorted(str(Path(p).relative_to(root)) for p in g) for g in split.duplicates)
    pairs = odd["exact_duplicates"]
    assert groups == sorted([sorted(pairs[:2]), sorted(pairs[2:])])
    digests = [data.file_digest(folder.samples[i][0]) for part in parts for i in part]
    assert len(digests) == len(set(digests))
    for part in parts:  # every class in every split, in proportion
        counts = np.bincount(folder.labels[part], minlength=5)
        assert counts.min() >= 1
    assert split == data.split_folder(folder, val_fraction=0.25, test_fraction=0.25, seed=1)
    assert split.train != data.split_folder(folder, 0.25, 0.25, seed=2).train
    with pytest.raises(ValueError, match="must be below 1"):
        data.split_folder(folder, 0.5, 0.5)
    with pytest.raises(TypeError, match="PhotoFolder"):
        data.split_folder([1, 2, 3])


def test_course_transforms_are_the_course_normalisation_as_torchvision_gives_it():
    from PIL import Image

    from course_utils import backbones

    preprocess = backbones.course_transforms()
    assert preprocess.crop_size == [32] and preprocess.mean == [0.5] * 3
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    ours = data.to_tensor(np.asarray(img).transpose(2, 0, 1)[None])[0]
    assert torch.allclose(backbones.course_transforms(32, 32)(img), ours, atol=1e-5)


def test_the_online_source_runs_on_a_fake_data_set_without_downloading(tmp_path, monkeypatch):
    """`SOURCE = "oxford_pets"` in lesson 8, with torchvision's FakeData standing in for the pets."""
    import torchvision
    from torchvision.datasets import FakeData

    from course_utils import photos

    calls = []

    def fake_pets(root, split, download):
        calls.append((split, download))
        fake = FakeData(size=30, image_size=(3, 70, 90), num_classes=3, random_offset=1)
        fake.classes = ["Abyssinian", "Bengal", "Birman"]
        return fake

    monkeypatch.setattr(torchvision.datasets, "OxfordIIITPet", fake_pets)
    source = photos.open_source("oxford_pets", tmp_path, download=False)
    assert calls == [("trainval", False)] and source.weights == "imagenet"
    assert source.preprocess.crop_size == [224]  # ImageNet's transforms(), built without download
    folder = data.image_folder(source.folder, transform=source.preprocess)
    assert folder.classes == ("Abyssinian", "Bengal", "Birman") and len(folder) == 30
    assert folder[0][0].shape == (3, 224, 224)
    split = data.split_folder(folder, 0.2, 0.2, seed=0)
    assert sum(map(len, (split.train, split.val, split.test))) == 30
    before = sorted(p.stat().st_mtime_ns for p in source.folder.rglob("*.jpg"))
    photos.open_source("oxford_pets", tmp_path)  # exported once: nothing rewritten
    assert sorted(p.stat().st_mtime_ns for p in source.folder.rglob("*.jpg")) == before
    # The backbone is built only when asked for (it would download the ImageNet weights).
    made = []
    monkeypatch.setattr(torchvision.models, "resnet18", lambda weights: made.append(weights))
    source.make_backbone()
    assert [str(w) for w in made] == ["ResNet18_Weights.IMAGENET1K_V1"]
    with pytest.raises(ValueError, match="'course' or 'oxford_pets', got 'flowers'"):
        photos.open_source("flowers", tmp_path)
