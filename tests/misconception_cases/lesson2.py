"""Lesson 2 (finding the head): realistic answers and what the checks must say."""

from misconception_cases import Case

L = "lesson2"

TYPED_2048 = """def replace_resnet_head(model: nn.Module, num_classes: int) -> nn.Module:
    model.fc = nn.Linear(2048, num_classes)
    return model
"""

CLASSIFIER = """def replace_resnet_head(model: nn.Module, num_classes: int) -> nn.Module:
    model.classifier = nn.Linear(model.fc.in_features, num_classes)
    return model
"""

FROM_WEIGHT = """def replace_resnet_head(model, num_classes):
    features = model.fc.weight.shape[1]
    setattr(model, "fc", nn.Linear(features, num_classes))
    return model
"""

COPIED_DEMO = """def replace_resnet_head(model: nn.Module, num_classes: int) -> nn.Module:
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
"""

LAST_LINEAR = """def replace_resnet_head(model, num_classes):
    linears = [m for m in model.fc.modules() if isinstance(m, nn.Linear)]
    model.fc = nn.Linear(linears[-1].in_features, num_classes)
    return model
"""

MEASURED = """def replace_resnet_head(model, num_classes):
    model.fc = nn.Identity()  # measure what the backbone produces
    features = model(torch.zeros(2, 3, 64, 64)).shape[1]
    model.fc = nn.Linear(features, num_classes)
    return model
"""

OUT_FEATURES_IN_PLACE = """def replace_resnet_head(model, num_classes):
    model.fc.out_features = num_classes
    return model
"""

MAKE_IN_PLACE = """def make_head(old_head, num_classes):
    if isinstance(old_head, nn.Conv2d):
        old_head.out_channels = num_classes
    else:
        old_head.out_features = num_classes
"""

RESNET_ONLY = """def get_in_features(model: nn.Module) -> int:
    return model.fc.in_features
"""

LINEAR_ONLY = """def get_in_features(model: nn.Module) -> int:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1].in_features
"""

IN_FEATURES_LOOP = """def get_in_features(model):
    for module in reversed(list(model.modules())):
        if isinstance(module, nn.Linear):
            return int(module.in_features)
        if isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1):
            return int(module.in_channels)
"""

MAKE_LINEAR_ONLY = """def make_head(old_head: nn.Module, num_classes: int) -> nn.Module:
    return nn.Linear(old_head.in_features, num_classes, bias=old_head.bias is not None)
"""

MAKE_ALWAYS_BIAS = """def make_head(old_head: nn.Module, num_classes: int) -> nn.Module:
    if isinstance(old_head, nn.Conv2d):
        return nn.Conv2d(old_head.in_channels, num_classes, kernel_size=1)
    return nn.Linear(old_head.in_features, num_classes)
"""

MAKE_OTHER_STYLE = """def make_head(old_head, num_classes):
    has_bias = old_head.bias is not None
    if type(old_head) is nn.Conv2d:
        return nn.Conv2d(old_head.weight.shape[1], num_classes, 1, bias=has_bias)
    return nn.Linear(old_head.weight.shape[1], num_classes, has_bias)
"""

CASES = [
    Case("resnet_head_typed_2048", L, "ex1_answer", TYPED_2048, "lesson2.typed_in_features"),
    Case("resnet_head_classifier", L, "ex1_answer", CLASSIFIER, "lesson2.classifier_on_resnet"),
    Case("resnet_head_from_weight", L, "ex1_answer", FROM_WEIGHT, "lesson2.head_taken_for_linear"),
    Case("resnet_head_copied_demo", L, "ex1_answer", COPIED_DEMO, "lesson2.head_taken_for_linear"),
    Case("resnet_head_last_linear", L, "ex1_answer", LAST_LINEAR, "lesson2.inner_in_features"),
    Case("resnet_head_measured", L, "ex1_answer", MEASURED, "pass", "pass"),
    Case(
        "resnet_head_out_features_in_place",
        L,
        "ex1_answer",
        OUT_FEATURES_IN_PLACE,
        "lesson2.out_features_edited",
    ),
    Case(
        "silent_attribute_error",
        L,
        "q1_answer",
        'answer_q1 = "A"',
        "lesson2.classifier_on_resnet",
        named_by="hidden",
    ),
    Case(
        "silent_shape_error",
        L,
        "q1_answer",
        'answer_q1 = "D"',
        "lesson2.classifier_on_resnet",
        named_by="hidden",
    ),
    Case("silent_lowercase", L, "q1_answer", "answer_q1 = 'b'", "pass", "pass"),
    Case("in_features_resnet_only", L, "ex2_answer", RESNET_ONLY, "lesson2.resnet_only"),
    Case("in_features_linear_only", L, "ex2_answer", LINEAR_ONLY, "lesson2.linear_only"),
    Case("in_features_loop", L, "ex2_answer", IN_FEATURES_LOOP, "pass", "pass"),
    Case("make_head_linear_only", L, "ex3_answer", MAKE_LINEAR_ONLY, "lesson2.linear_only"),
    Case("make_head_always_bias", L, "ex3_answer", MAKE_ALWAYS_BIAS, "lesson2.bias_not_copied"),
    Case("make_head_from_weight", L, "ex3_answer", MAKE_OTHER_STYLE, "pass", "pass"),
    Case("make_head_in_place", L, "ex3_answer", MAKE_IN_PLACE, "lesson2.edited_old_layer"),
    Case(
        "line_512",
        L,
        "q2_answer",
        'answer_q2 = "A"',
        "lesson2.resnet18_size_on_resnet50",
        named_by="hidden",
    ),
    Case(
        "line_vgg", L, "q2_answer", 'answer_q2 = "B"', "lesson2.resnet_like_vgg", named_by="hidden"
    ),
    Case(
        "line_head", L, "q2_answer", 'answer_q2 = "D"', "lesson2.head_on_resnet", named_by="hidden"
    ),
]

# Every wrong option of each graded multiple-choice item, named by its hidden test.
CASES += [
    Case(
        "q1_option_c",
        L,
        "q1_answer",
        'answer_q1 = "C"',
        "lesson2.classifier_on_resnet",
        named_by="hidden",
    ),
]
