"""Lesson 1 (what the head is for): realistic answers and what the checks must say."""

from misconception_cases import Case

L = "lesson1"

RESNET_ONLY = """def split_model(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    backbone = copy.deepcopy(model)
    backbone.fc = nn.Identity()
    return backbone, model.fc
"""

CHILDREN = """def split_model(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    layers = list(model.children())
    return nn.Sequential(*copy.deepcopy(layers[:-1])), layers[-1]
"""

SPLIT_OTHER_STYLE = """def split_model(model):
    path, head = None, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            path, head = name, module
    backbone = copy.deepcopy(model)
    *parents, last = path.split(".")
    owner = backbone
    for part in parents:
        owner = getattr(owner, part) if not part.isdigit() else owner[int(part)]
    if last.isdigit():
        owner[int(last)] = nn.Identity()
    else:
        setattr(owner, last, nn.Identity())
    return backbone, head
"""

AFTER = """def dropout_head(in_features: int, num_classes: int, p: float) -> nn.Module:
    return nn.Sequential(nn.Linear(in_features, num_classes), nn.Dropout(p))
"""

SOFTMAX = """def dropout_head(in_features: int, num_classes: int, p: float) -> nn.Module:
    return nn.Sequential(nn.Dropout(p), nn.Linear(in_features, num_classes), nn.Softmax(dim=1))
"""

# "Dropout, then the layer": a ReLU slipped in between, as in the two-layer heads of lesson 2.
DROPOUT_RELU = """def dropout_head(in_features, num_classes, p):
    return nn.Sequential(nn.Dropout(p), nn.ReLU(), nn.Linear(in_features, num_classes))
"""

DROPOUT_OTHER_STYLE = """def dropout_head(in_features, num_classes, p):
    head = nn.Sequential()
    head.add_module("dropout", nn.Dropout(p=p))
    head.add_module("linear", nn.Linear(in_features=in_features, out_features=num_classes))
    return head
"""

CASES = [
    Case("split_resnet_only", L, "ex1_answer", RESNET_ONLY, "lesson1.resnet_only"),
    Case("split_children", L, "ex1_answer", CHILDREN, "lesson1.not_flattened"),
    Case("split_other_style", L, "ex1_answer", SPLIT_OTHER_STYLE, "pass", "pass"),
    Case("dropout_after_linear", L, "ex2_answer", AFTER, "lesson1.dropout_after_linear"),
    Case("dropout_softmax", L, "ex2_answer", SOFTMAX, "lesson1.softmax_in_head"),
    Case("dropout_other_style", L, "ex2_answer", DROPOUT_OTHER_STYLE, "pass", "pass"),
    Case("dropout_relu_between", L, "ex2_answer", DROPOUT_RELU, "lesson1.not_a_sequential"),
    Case(
        "input_new_size",
        L,
        "q1_answer",
        'answer_q1 = "B"',
        "lesson1.input_size_changes",
        named_by="hidden",
    ),
    Case(
        "input_224",
        L,
        "q1_answer",
        'answer_q1 = "C"',
        "lesson1.input_size_changes",
        named_by="hidden",
    ),
    Case("input_lowercase", L, "q1_answer", "answer_q1 = ' a'", "pass", "pass"),
    Case("size_half", L, "q2_answer", 'answer_q2 = "C"', "lesson1.much_smaller", named_by="hidden"),
    Case(
        "size_80_percent",
        L,
        "q2_answer",
        'answer_q2 = "B"',
        "lesson1.much_smaller",
        named_by="hidden",
    ),
    Case("size_larger", L, "q2_answer", 'answer_q2 = "D"', "lesson1.grows", named_by="hidden"),
    Case(
        "speed_layers_removed",
        L,
        "q3_answer",
        'answer_q3 = "C"',
        "lesson1.faster_training",
        named_by="hidden",
    ),
    Case(
        "speed_fewer_parameters",
        L,
        "q3_answer",
        'answer_q3 = "B"',
        "lesson1.faster_training",
        named_by="hidden",
    ),
    Case("speed_init", L, "q3_answer", 'answer_q3 = "D"', "lesson1.slower_init", named_by="hidden"),
]

# Every wrong option of each graded multiple-choice item, named by its hidden test.
CASES += [
    Case(
        "q1_option_d",
        L,
        "q1_answer",
        'answer_q1 = "D"',
        "lesson1.input_size_changes",
        named_by="hidden",
    ),
]
