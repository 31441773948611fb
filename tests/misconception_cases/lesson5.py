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

TYPED_COUNT = """def trainable_after_swap(model, num_classes):
    return 30735
"""

COUNT_AS_STRING = """def trainable_after_swap(model, num_classes):
    info = heads.find_head(model)
    return f"{info.in_features * num_classes + num_classes}"
"""

OPTIMIZER_TOO_EARLY = """def build_optimizer(model, lr):
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


fixed = backbones.load_backbone("resnet18", weights="course")
optimizer = torch.optim.SGD(fixed.fc.parameters(), lr=0.1)
freezing.freeze(fixed)
fixed.fc = nn.Linear(fixed.fc.in_features, len(classes))
"""

OPTIMIZER_OTHER_STYLE = """def build_optimizer(model, lr):
    return torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=lr)


fixed = backbones.load_backbone("resnet18", weights="course")
heads.replace_head(fixed, len(classes), freeze_backbone=True)
optimizer = build_optimizer(fixed, lr=0.1)
"""

OPTIMIZER_ADAM = """def build_optimizer(model, lr):
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)


fixed = backbones.load_backbone("resnet18", weights="course")
freezing.freeze(fixed)
fixed.fc = nn.Linear(fixed.fc.in_features, len(classes))
optimizer = build_optimizer(fixed, lr=0.1)
"""

# Swap, then freeze: build_optimizer raises (an empty parameter list), and the test cell
# meets the optimizer a demo cell left behind.
OPTIMIZER_SWAP_THEN_FREEZE = """def build_optimizer(model, lr):
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


fixed = backbones.load_backbone("resnet18", weights="course")
fixed.fc = nn.Linear(fixed.fc.in_features, len(classes))
freezing.freeze(fixed)
optimizer = build_optimizer(fixed, lr=0.1)
"""

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
        "the ResNet-50 count typed in", L, "ex2_answer", TYPED_COUNT, visible="lesson5.count_typed"
    ),
    Case(
        "the count as a string",
        L,
        "ex2_answer",
        COUNT_AS_STRING,
        visible="lesson5.number_as_string",
    ),
    Case(
        "optimizer built before the swap",
        L,
        "ex3_answer",
        OPTIMIZER_TOO_EARLY,
        visible="lesson5.optimizer_too_early",
    ),
    Case("Adam instead of SGD", L, "ex3_answer", OPTIMIZER_ADAM, visible="lesson5.wrong_optimizer"),
    Case(
        "swap, then freeze: build_optimizer raises",
        L,
        "ex3_answer",
        OPTIMIZER_SWAP_THEN_FREEZE,
        visible="lesson5.froze_after_replacing",
    ),
    Case(
        "filter() and replace_head: right",
        L,
        "ex3_answer",
        OPTIMIZER_OTHER_STYLE,
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
