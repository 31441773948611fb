"""find_head/replace_head on timm and Hugging Face transformers models (a CI sample).

Models are built from their configs on the meta device: nothing is downloaded.
The checks are bench/zoo_sweep.py's, which `make bench-zoo` runs on every timm
architecture and every transformers image-classification class; here they run
on one architecture of each timm family, every kind of head the sweep found
hard (distillation, auxiliary, per-branch, wrapped, none at all) and a sample of
transformers classes.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
timm = pytest.importorskip("timm")
transformers = pytest.importorskip("transformers")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from course_utils.heads import find_head, replace_head  # noqa: E402

pytestmark = pytest.mark.long(94)

_spec = importlib.util.spec_from_file_location(
    "zoo_sweep", Path(__file__).resolve().parents[1] / "bench" / "zoo_sweep.py"
)
zoo = importlib.util.module_from_spec(_spec)
sys.modules["zoo_sweep"] = zoo  # dataclasses look their module up there
_spec.loader.exec_module(zoo)

# Small members first: one architecture per family should build in a fraction of a second.
_SMALL = (
    "test",
    "atto",
    "femto",
    "pico",
    "nano",
    "tiny",
    "ti_",
    "xxs",
    "xs",
    "mini",
    "small",
    "_s_",
    "_s1",
    "b0",
    "18",
    "26",
    "m0",
    "_0",
    "_t",
    "_s",  # sequencer2d_s, not its large sibling (an LSTM on the meta device is slow)
)


def _has(word: str, name: str) -> bool:
    """``word`` in ``name``; a number only whole ("26" in resnet26, not in densenet264d)."""
    if word.isdigit():
        return re.search(rf"(?<!\d){word}(?!\d)", name) is not None
    return word in name


def _smallest(names: list[str]) -> str:
    def rank(name: str) -> tuple[int, int, str]:
        hits = [i for i, word in enumerate(_SMALL) if _has(word, name)]
        return (min(hits) if hits else len(_SMALL), len(name), name)

    return min(names, key=rank)


FAMILIES = zoo.timm_families()
# Every kind of head that the first sweep got wrong, by family module.
HARD_TIMM = [
    "deit_tiny_distilled_patch16_224",  # head + head_dist
    "pit_ti_distilled_224",
    "efficientformer_l1",
    "efficientformerv2_s0",
    "swiftformer_xs",
    "levit_128s",  # BatchNorm+Linear heads, distilled
    "repvit_m0_9",  # distillation inside a wrapper class
    "iformer_t",
    "crossvit_tiny_240",  # one head per branch
    "efficientvim_m1",  # one head per stage
    "volo_d1_224",  # aux_head
    "caformer_s18",  # MLP head: only its last layer scores classes
    "inception_next_atto",
    "samvit_base_patch16",  # no head by default (num_classes=0)
    "aimv2_large_patch14_224",
    "deepseek_vit_412m_enc",  # an encoder with a projector (aligner) and no classifier API
    "gemma4_vit_167m_enc",  # an encoder with no classifier API, ending in an MLP block
    "mobilenetv5_300m_enc",  # a convolutional encoder: a feature map, no classifier API
]
TRANSFORMERS_SAMPLE = [
    "DeiTForImageClassificationWithTeacher",  # cls_classifier + distillation_classifier
    "LevitForImageClassificationWithTeacher",  # classifier + classifier_distill (BN+Linear)
    "SwiftFormerForImageClassification",  # head + dist_head
    "PerceiverForImageClassificationLearned",  # head inside the base model's decoder
    "TimmWrapperForImageClassification",  # a timm model inside
    "HGNetV2ForImageClassification",  # fc next to a ModuleList called classifier
    "ResNetForImageClassification",  # Sequential(Flatten, Linear)
    "SiglipForImageClassification",  # its base model pools with an MLP: no head
    "ShieldGemma2ForImageClassification",  # scores vocabulary tokens: no head
]


def test_every_timm_model_belongs_to_a_family():
    assert sum(len(v) for v in FAMILIES.values()) == len(timm.list_models())
    assert all(_exists(name) for name in HARD_TIMM), [n for n in HARD_TIMM if not _exists(n)]


def _exists(name: str) -> bool:
    return name in timm.list_models()


def _assert_pass(outcome) -> None:
    assert outcome.status == "pass", f"{outcome.name}: {outcome.detail}"


@pytest.mark.parametrize("name", sorted({_smallest(v) for v in FAMILIES.values()} | set(HARD_TIMM)))
def test_timm_heads_agree_with_timm(name):
    _assert_pass(zoo.check_timm(name))


@functools.cache
def _check_transformers(name: str):
    """One check per class: the sample and the full list share its outcome."""
    return zoo.check_transformers(name)


@pytest.mark.parametrize("name", TRANSFORMERS_SAMPLE)
def test_transformers_heads_agree_with_transformers(name):
    _assert_pass(_check_transformers(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.transformers_classes())
def test_every_transformers_class(name):
    outcome = _check_transformers(name)
    if outcome.status == "skip":
        pytest.skip(outcome.detail)  # needs a compiled package (natten)
    _assert_pass(outcome)


def _meta_timm(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return timm.create_model(name, pretrained=False, **kwargs)


def test_distilled_timm_model_lists_both_heads_and_replaces_both():
    model = _meta_timm("deit_tiny_distilled_patch16_224")
    info = find_head(model)
    assert (info.path, info.aux_paths, info.paths) == (
        "head",
        ("head_dist",),
        ("head", "head_dist"),
    )
    replace_head(model, 7, freeze_backbone=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias", "head_dist.weight", "head_dist.bias"}
    model.set_distilled_training(True)
    out = model.train()(torch.empty(2, 3, 224, 224, device="meta"))
    assert [tuple(t.shape) for t in out] == [(2, 7), (2, 7)]


def test_levit_keeps_the_batchnorm_of_its_wrapped_heads():
    model = _meta_timm("levit_128s")
    bn = model.head.bn
    info = find_head(model)
    assert info.paths == ("head.linear", "head_dist.linear")
    replace_head(model, 7)
    assert model.head.bn is bn and model.head.linear.out_features == 7
    assert model.head_dist.linear.out_features == 7 and model.num_classes == 7


def test_replace_head_keeps_dtype_bias_and_mode_on_a_real_timm_model():
    torch.manual_seed(0)
    model = timm.create_model("test_vit", pretrained=False).to(torch.float64).eval()
    replace_head(model, 3)
    assert model.head.weight.dtype == torch.float64 and not model.head.training
    assert model(torch.randn(2, 3, 160, 160, dtype=torch.float64)).shape == (2, 3)


@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "resnet18", "levit_128s"])
def test_timm_feature_extractor_is_refused_with_its_output_size(name):
    model = _meta_timm(name, num_classes=0)
    features = model(torch.empty(1, 3, 224, 224, device="meta")).shape[-1]
    with pytest.raises(
        ValueError,
        match=rf"a feature extractor: its output is {features} features"
        r".*num_classes=0.*reset_classifier\(num_classes\)",
    ):
        find_head(model)
    with pytest.raises(ValueError, match="feature extractor"):
        replace_head(model, 7)


def test_timm_encoder_with_a_projector_is_not_given_a_head():
    # No classifier API; its last Linear is the projector that feeds a language model.
    model = _meta_timm("deepseek_vit_412m_enc")
    with pytest.raises(
        ValueError,
        match=r"feature extractor: its output is 5120 features.*"
        r"'aligner\.fc2' is inside 'aligner'",
    ):
        find_head(model)


@pytest.mark.parametrize(
    "name, features", [("gemma4_vit_167m_enc", 768), ("mobilenetv5_300m_enc", 2048)]
)
def test_timm_encoder_without_a_classifier_api_is_a_feature_extractor(name, features):
    # They accept num_classes but never build a classifier; their last Linear is in a block.
    model = _meta_timm(name)
    with pytest.raises(
        ValueError, match=rf"feature extractor: its output is {features} features.*an encoder"
    ):
        find_head(model)


def test_siglip_attention_pooling_is_not_a_head():
    class Encoder(nn.Module):  # a user's wrapper: no timm API on the outside
        def __init__(self):
            super().__init__()
            self.encoder = timm.create_model("vit_base_patch16_siglip_224", num_classes=0)

        def forward(self, x):
            return self.encoder(x)

    with torch.device("meta"):
        model = Encoder()
    with pytest.raises(
        ValueError,
        match=r"Encoder is a feature extractor: its output is 768 "
        r"features.*'encoder\.attn_pool\.mlp\.fc2'.*"
        r"nn\.Linear\(768, num_classes\)",
    ):
        find_head(model)


def _meta_hf(cls_name: str, **config):
    cls = getattr(transformers, cls_name)
    with torch.device("meta"):
        return cls(cls.config_class(**config))


def test_transformers_distillation_heads_are_both_replaced():
    model = _meta_hf("DeiTForImageClassificationWithTeacher")
    assert find_head(model).paths == ("cls_classifier", "distillation_classifier")
    replace_head(model, 7)
    out = model.eval()(torch.empty(2, 3, 224, 224, device="meta"))
    assert [tuple(out[k].shape) for k in ("logits", "cls_logits", "distillation_logits")] == [
        (2, 7)
    ] * 3
    assert model.config.num_labels == 7 and len(model.config.id2label) == 7


@pytest.mark.parametrize(
    ("cls_name", "features"),
    [
        ("SiglipVisionModel", 768),  # attention pooling with an MLP
        ("CLIPVisionModelWithProjection", 512),  # a projector: image embeddings, not classes
        ("ViTModel", 768),  # a pooler (Linear + tanh)
    ],
)
def test_transformers_encoders_are_feature_extractors(cls_name, features):
    model = _meta_hf(cls_name)
    with pytest.raises(
        ValueError,
        match=rf"{cls_name} is a feature extractor: its output is "
        rf"{features} features.*num_labels=num_classes",
    ):
        find_head(model)


def test_transformers_classifier_with_zero_labels_is_refused():
    model = _meta_hf("ViTForImageClassification", num_labels=0)
    with pytest.raises(ValueError, match=r"feature extractor.*config\.num_labels is 0"):
        find_head(model)


def test_shieldgemma_scores_tokens_and_has_no_head():
    with pytest.raises(ValueError, match="no classifier layer"):
        find_head(_meta_hf("ShieldGemma2ForImageClassification"))


class _Block(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        return x + self.mlp(self.norm(x))


def test_generic_rule_never_takes_a_linear_inside_a_residual_block():
    model = nn.Sequential(nn.Linear(8, 16), _Block(16))
    with pytest.raises(
        ValueError,
        match=r"Sequential is a feature extractor: its output is 16 "
        r"features.*'1\.mlp\.2' is inside '1\.mlp'",
    ):
        find_head(model)


def test_generic_rule_never_takes_a_projector():
    class Embedder(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.visual_projection = nn.Linear(8, 4, bias=False)

    with pytest.raises(
        ValueError, match=re.escape("Embedder is a feature extractor: its output is 4 features")
    ):
        find_head(Embedder())


def test_generic_rule_still_finds_heads_named_like_heads():
    class LucidViT(nn.Module):  # vit-pytorch keeps its head in `mlp_head`
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(_Block(16), _Block(16))
            self.mlp_head = nn.Sequential(nn.LayerNorm(16), nn.Linear(16, 10))

    assert find_head(LucidViT()).path == "mlp_head.1"
    replaced = replace_head(LucidViT(), 3)
    assert replaced.mlp_head[1].out_features == 3


def _meta_signature(out) -> list[tuple]:
    return [(tuple(t.shape), t.stride(), t.dtype) for t in zoo._tensors(out)]


def test_meta_results_give_exactly_what_the_meta_kernels_give():
    with torch.device("meta"):
        model = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False).train()
    model.set_distilled_training(True)  # two outputs in train mode
    x = torch.empty(2, 3, 224, 224, device="meta")
    with torch.no_grad():
        want = _meta_signature(model(x))
        with zoo.MetaResults() as results:
            first = _meta_signature(model(x))
            again = _meta_signature(model(x))
    assert first == again == want and len(want) == 2
    assert results.seen and results.reused > len(results.seen)


def test_meta_results_leave_views_in_place_operators_and_data_to_the_kernels():
    x = torch.empty(4, 6, device="meta")
    with zoo.MetaResults() as results:
        for _ in range(2):
            assert x.add_(1) is x
            assert x.view(24)._base is x
            data = torch.arange(3.0)  # a tensor with data: its values may decide a shape
            assert (data + data).tolist() == [0.0, 2.0, 4.0]
    assert results.seen == {} and results.reused == 0


def test_building_on_meta_skips_only_the_initialisers():
    def signature(model):
        return [(n, p.shape, p.stride(), p.dtype) for n, p in model.named_parameters()]

    with zoo.on_meta():
        quick = timm.create_model("vit_tiny_patch16_224", pretrained=False)  # truncated normals
    with torch.device("meta"):
        plain = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    assert signature(quick) == signature(plain) and quick.head.weight.is_meta
    with zoo.on_meta():
        x = torch.empty(3, 4)
        with pytest.raises(RuntimeError):
            x.clamp_(min=torch.empty(5))  # a tensor bound: it runs, and its meta kernel refuses


def test_sweep_results_replace_their_own_part_and_keep_the_next_scripts_block(tmp_path):
    results = tmp_path / "RESULTS.md"
    hub = "<!-- begin: hub -->\n## A class on JupyterHub\n\nmeasured\n<!-- end: hub -->\n"
    results.write_text(f"# Benchmarks\n\n{zoo.SECTION}\n\nrule\n\n### timm\n\n- old\n\n{hub}")
    zoo.write_section(results, "timm", ["- new"])
    zoo.write_section(results, "transformers", ["- added"])
    text = results.read_text()
    assert text.endswith(hub) and "- old" not in text
    assert text.index("- new") < text.index("- added") < text.index("<!-- begin: hub -->")
