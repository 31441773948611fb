"""Lesson 5's misconception corpus: freeze, swap, optimizer, BatchNorm, set-up choice, rates, augmentation."""

from misconception_cases import Case

L = "lesson5"

FROZE_AFTER = """def prepare_feature_extractor(model, num_classes):
    info = heads.find_head(model)
    heads.set_module(model, info.path, nn.Linear(info.in_features, num_classes))
    for p in model.parameters():
        p.requires_grad = False
    return model
"""

RESNET_ONLY = """def prepare_feature_extractor(model, num_classes):
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
"""

ONE_LAYER_COUNT = """def trainable_with_hidden_layer(model, hidden, num_classes):
    in_features = heads.find_head(model).in_features
    return in_features * num_classes + num_classes
"""

LAST_LAYER_ONLY = """def trainable_with_hidden_layer(model, hidden, num_classes):
    return hidden * num_classes + num_classes
"""

HIDDEN_NO_BIAS = """def trainable_with_hidden_layer(model, hidden, num_classes):
    in_features = heads.find_head(model).in_features
    return in_features * hidden + hidden * num_classes
"""

HIDDEN_TYPED = """def trainable_with_hidden_layer(model, hidden, num_classes):
    return 164871
"""

HIDDEN_COUNTED_ON_A_COPY = """import copy


def trainable_with_hidden_layer(model, hidden, num_classes):
    twin = copy.deepcopy(model)
    twin.requires_grad_(False)
    info = heads.find_head(twin)
    heads.set_module(twin, info.path, nn.Sequential(
        nn.Linear(info.in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)))
    return sum(p.numel() for p in twin.parameters() if p.requires_grad)
"""

_STAGED = """

staged = backbones.load_backbone("resnet18", weights="course")
heads.replace_head(staged, len(classes), freeze_backbone=True)
optimizer = unfreeze_block(staged, "layer4", lr=0.01)
"""

OPTIMIZER_BEFORE_UNFREEZE = (
    """def unfreeze_block(model, block, lr):
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    for p in heads.get_module(model, block).parameters():
        p.requires_grad = True
    return optimizer
"""
    + _STAGED
)

UNFREEZE_EVERYTHING = (
    """def unfreeze_block(model, block, lr):
    for p in model.parameters():
        p.requires_grad = True
    return torch.optim.SGD(model.parameters(), lr=lr)
"""
    + _STAGED
)

EVERY_PARAMETER_TO_SGD = (
    """def unfreeze_block(model, block, lr):
    for p in heads.get_module(model, block).parameters():
        p.requires_grad = True
    return torch.optim.SGD(model.parameters(), lr=lr)
"""
    + _STAGED
)

HEAD_FROZEN_AGAIN = (
    """def unfreeze_block(model, block, lr):
    freezing.freeze(model)
    heads.get_module(model, block).requires_grad_(True)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
"""
    + _STAGED
)

LAYER4_ATTRIBUTE = (
    """def unfreeze_block(model, block, lr):
    model.layer4.requires_grad_(True)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
"""
    + _STAGED
)

UNFREEZE_OTHER_STYLE = (
    """def unfreeze_block(model, block, lr):
    heads.get_module(model, block).requires_grad_(True)
    return torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=lr)
"""
    + _STAGED
)

RATES_ADAM = """def two_rate_optimizer(model, lr, backbone_factor):
    head = heads.get_module(model, heads.find_head(model).path)
    in_head = {id(p) for p in head.parameters()}
    backbone = [p for p in model.parameters() if id(p) not in in_head]
    return torch.optim.Adam([
        {"params": backbone, "lr": lr * backbone_factor},
        {"params": list(head.parameters()), "lr": lr},
    ])
"""

RATES_SWAPPED = """def two_rate_optimizer(model, lr, backbone_factor):
    path = heads.find_head(model).path
    head = heads.get_module(model, path)
    in_head = {id(p) for p in head.parameters()}
    backbone = [p for p in model.parameters() if id(p) not in in_head]
    return torch.optim.AdamW([
        {"params": backbone, "lr": lr},
        {"params": list(head.parameters()), "lr": lr * backbone_factor},
    ])
"""

RATES_OTHER_STYLE = """def two_rate_optimizer(model, lr, backbone_factor):
    prefix = heads.find_head(model).path + "."
    head = [p for name, p in model.named_parameters() if name.startswith(prefix)]
    rest = [p for name, p in model.named_parameters() if not name.startswith(prefix)]
    optimizer = torch.optim.AdamW(rest, lr=lr * backbone_factor)
    optimizer.add_param_group({"params": head, "lr": lr})
    return optimizer
"""

CASES = [
    Case(
        "freeze after the swap",
        L,
        "ex1_answer",
        FROZE_AFTER,
        visible="lesson5.froze_after_replacing",
    ),
    Case(
        "model.fc: works for ResNets only",
        L,
        "ex1_answer",
        RESNET_ONLY,
        visible="lesson5.resnet_only",
    ),
    Case(
        "section 2's one-layer count reused",
        L,
        "ex2_answer",
        ONE_LAYER_COUNT,
        visible="lesson5.count_one_layer_recipe",
    ),
    Case(
        "only the last new layer counted",
        L,
        "ex2_answer",
        LAST_LAYER_ONLY,
        visible="lesson5.count_one_new_layer",
    ),
    Case(
        "both layers without their biases",
        L,
        "ex2_answer",
        HIDDEN_NO_BIAS,
        visible="lesson5.count_forgot_bias",
    ),
    Case(
        "the EfficientNet count typed in",
        L,
        "ex2_answer",
        HIDDEN_TYPED,
        visible="lesson5.count_typed",
    ),
    Case(
        "counted on a copy with the head built: right",
        L,
        "ex2_answer",
        HIDDEN_COUNTED_ON_A_COPY,
        visible="pass",
        graded="pass",
    ),
    Case(
        "optimizer built before the block is unfrozen",
        L,
        "ex3_answer",
        OPTIMIZER_BEFORE_UNFREEZE,
        visible="lesson5.optimizer_before_unfreeze",
    ),
    Case(
        "the whole backbone unfrozen",
        L,
        "ex3_answer",
        UNFREEZE_EVERYTHING,
        visible="lesson5.unfroze_too_much",
    ),
    Case(
        "every parameter handed to SGD",
        L,
        "ex3_answer",
        EVERY_PARAMETER_TO_SGD,
        visible="lesson5.frozen_in_optimizer",
    ),
    Case(
        "freeze everything, then unfreeze the block: the head frozen",
        L,
        "ex3_answer",
        HEAD_FROZEN_AGAIN,
        visible="lesson5.head_refrozen",
    ),
    Case(
        "model.layer4: works for ResNets only",
        L,
        "ex3_answer",
        LAYER4_ATTRIBUTE,
        visible="lesson5.resnet_only",
    ),
    Case(
        "requires_grad_ on the block and filter(): right",
        L,
        "ex3_answer",
        UNFREEZE_OTHER_STYLE,
        visible="pass",
        graded="pass",
    ),
    Case(
        "requires_grad protects BatchNorm",
        L,
        "q1_answer",
        'answer_q1 = "A"\n',
        visible="lesson5.requires_grad_protects_all",
        named_by="hidden",
    ),
    Case(
        "lower-case letter with spaces: right",
        L,
        "q1_answer",
        'answer_q1 = " b "\n',
        visible="pass",
        graded="pass",
    ),
    Case(
        "fitting the training images taken for learning",
        L,
        "q2_answer",
        'answer_q2 = "B"\n',
        visible="lesson5.random_memorises",
        named_by="hidden",
    ),
    Case(
        "the most accurate set-up, not the cheapest",
        L,
        "q3_answer",
        'answer_q3 = "B"\n',
        visible="lesson5.cost_ignored",
        named_by="hidden",
    ),
    Case(
        "the random backbone chosen",
        L,
        "q3_answer",
        'answer_q3 = "C"\n',
        visible="lesson5.rule_misread",
        named_by="hidden",
    ),
    Case(
        "head and backbone rates swapped",
        L,
        "ex7_answer",
        RATES_SWAPPED,
        visible="lesson5.rates_swapped",
    ),
    Case("Adam instead of AdamW", L, "ex7_answer", RATES_ADAM, visible="lesson5.wrong_optimizer"),
    Case(
        "named parameters and add_param_group: right",
        L,
        "ex7_answer",
        RATES_OTHER_STYLE,
        visible="pass",
        graded="pass",
    ),
    Case(
        "augment validation and test too",
        L,
        "q4_answer",
        'answer_q4 = "A"\n',
        visible="lesson5.augment_eval_data",
        named_by="hidden",
    ),
    Case(
        "copies as independent data",
        L,
        "q4_answer",
        'answer_q4 = "D"\n',
        visible="lesson5.augment_adds_information",
        named_by="hidden",
    ),
]

# Every wrong option of each graded multiple-choice item, named by its hidden test.
CASES += [
    Case(
        "q1_option_c",
        L,
        "q1_answer",
        'answer_q1 = "C"',
        "lesson5.eval_stops_learning",
        named_by="hidden",
    ),
    Case(
        "q1_option_d",
        L,
        "q1_answer",
        'answer_q1 = "D"',
        "lesson5.freezing_resets_stats",
        named_by="hidden",
    ),
    Case(
        "q2_option_a",
        L,
        "q2_answer",
        'answer_q2 = "A"',
        "lesson5.head_does_the_work",
        named_by="hidden",
    ),
    Case(
        "q2_option_d",
        L,
        "q2_answer",
        'answer_q2 = "D"',
        "lesson5.random_is_better_start",
        named_by="hidden",
    ),
    Case(
        "q4_option_c",
        L,
        "q4_answer",
        'answer_q4 = "C"',
        "lesson5.augment_changes_label",
        named_by="hidden",
    ),
]
