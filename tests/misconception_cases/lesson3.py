"""Lesson 3 (output shapes, logits, inference hygiene): realistic answers and what checks say."""

from misconception_cases import Case

L = "lesson3"

RESNET_ONLY = """def predict_output_shape(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    return (input_shape[0], model.fc.out_features)
"""

META_ONLY = """def predict_output_shape(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    with torch.no_grad():
        out = model(torch.empty(input_shape, device="meta"))
    return tuple(out.shape)
"""

ANY_DEVICE = """def predict_output_shape(model, input_shape):
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model.eval()(torch.zeros(input_shape, device=device))
    return tuple(out.shape)
"""

BY_HAND = """def predict(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    probabilities = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return probabilities, probabilities.argmax(dim=1)
"""

OVER_BATCH = """def predict(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    probabilities = torch.softmax(logits, dim=0)
    return probabilities, probabilities.argmax(dim=1)
"""

OTHER_STYLE = """def predict(logits):
    probabilities = logits.softmax(-1)
    return probabilities, torch.max(probabilities, dim=-1).indices
"""

# The section's dim=1, copied: right on every batch, an IndexError on one image's logits.
COPIED_DIM_1 = """def predict(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    probabilities = torch.softmax(logits, dim=1)
    return probabilities, probabilities.argmax(dim=1)
"""

# A batch of one made by hand, and the result squeezed back: right too.
UNSQUEEZED = """def predict(logits):
    single = logits.ndim == 1
    batch = logits.unsqueeze(0) if single else logits
    probabilities = torch.softmax(batch, dim=1)
    predicted = probabilities.argmax(dim=1)
    if single:
        return probabilities[0], predicted[0]
    return probabilities, predicted
"""

# Right shape, but the caller's model loses its head: the measurement was never undone.
HEAD_SWAPPED_AWAY = """def predict_output_shape(model, input_shape):
    info = heads.find_head(model)
    classes = info.out_features
    heads.set_module(model, info.path, nn.Identity())  # 'to look at the features'
    return (input_shape[0], classes)
"""

CASES = [
    Case("shape_resnet_only", L, "ex1_answer", RESNET_ONLY, "lesson3.resnet_only"),
    Case("shape_meta_only", L, "ex1_answer", META_ONLY, "lesson3.device_assumed"),
    Case("shape_forward_any_device", L, "ex1_answer", ANY_DEVICE, "pass", "pass"),
    Case("shape_head_swapped_away", L, "ex1_answer", HEAD_SWAPPED_AWAY, "lesson3.model_changed"),
    Case("softmax_by_hand", L, "ex2_answer", BY_HAND, "lesson3.unstable_softmax"),
    Case("softmax_over_batch", L, "ex2_answer", OVER_BATCH, "lesson3.softmax_over_batch"),
    Case("predict_other_style", L, "ex2_answer", OTHER_STYLE, "pass", "pass"),
    Case("predict_dim_1_copied", L, "ex2_answer", COPIED_DIM_1, "lesson3.class_axis_hard_coded"),
    Case("predict_unsqueezed", L, "ex2_answer", UNSQUEEZED, "pass", "pass"),
    Case(
        "still_1000",
        L,
        "q_answers",
        'answer_q1 = "A"\nanswer_q2 = "D"\nanswer_q3 = 8 * 24',
        "lesson3.still_1000",
        named_by="hidden",
    ),
    Case(
        "count_as_string",
        L,
        "q_answers",
        'answer_q1 = "C"\nanswer_q2 = "D"\nanswer_q3 = "192"',
        "lesson3.not_a_number",
    ),
    Case(
        "answers_other_style",
        L,
        "q_answers",
        "answer_q1 = 'c'\nanswer_q2 = ' d'\nanswer_q3 = 192",
        "pass",
        "pass",
    ),
    Case(
        "softmax_in_head",
        L,
        "q4_answer",
        'answer_q4 = "A"',
        "lesson3.softmax_before_loss",
        named_by="hidden",
    ),
    Case(
        "relu_in_head",
        L,
        "q4_answer",
        'answer_q4 = "C"',
        "lesson3.relu_on_logits",
        named_by="hidden",
    ),
    Case(
        "argmax_in_head",
        L,
        "q4_answer",
        'answer_q4 = "D"',
        "lesson3.argmax_in_head",
        named_by="hidden",
    ),
    Case(
        "no_grad_only",
        L,
        "q5_answer",
        'answer_q5 = "B"',
        "lesson3.no_grad_is_eval",
        named_by="hidden",
    ),
    Case(
        "eval_only", L, "q5_answer", 'answer_q5 = "D"', "lesson3.eval_is_no_grad", named_by="hidden"
    ),
    Case(
        "train_mode",
        L,
        "q5_answer",
        'answer_q5 = "A"',
        "lesson3.train_mode_inference",
        named_by="hidden",
    ),
]

# Every wrong option of each graded multiple-choice item, named by its hidden test.
CASES += [
    Case(
        "q1_option_b",
        L,
        "q_answers",
        'answer_q1 = "B"\nanswer_q2 = "D"\nanswer_q3 = 8 * 24',
        "lesson3.features_as_outputs",
        named_by="hidden",
    ),
    Case(
        "q1_option_d",
        L,
        "q_answers",
        'answer_q1 = "D"\nanswer_q2 = "D"\nanswer_q3 = 8 * 24',
        "lesson3.input_as_output",
        named_by="hidden",
    ),
    Case(
        "q2_option_a",
        L,
        "q_answers",
        'answer_q1 = "C"\nanswer_q2 = "A"\nanswer_q3 = 8 * 24',
        "lesson3.argmax_needs_probabilities",
        named_by="hidden",
    ),
    Case(
        "q2_option_b",
        L,
        "q_answers",
        'answer_q1 = "C"\nanswer_q2 = "B"\nanswer_q3 = 8 * 24',
        "lesson3.softmax_reorders",
        named_by="hidden",
    ),
    Case(
        "q2_option_c",
        L,
        "q_answers",
        'answer_q1 = "C"\nanswer_q2 = "C"\nanswer_q3 = 8 * 24',
        "lesson3.features_as_outputs",
        named_by="hidden",
    ),
]
