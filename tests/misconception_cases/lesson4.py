"""Lesson 4 (the feature-size mismatch error): realistic answers and what the checks must say."""

from misconception_cases import Case

L = "lesson4"

ANCHORED = """import re


def parse_shape_error(message):
    found = re.match(r"mat1 and mat2 shapes cannot be multiplied \\((\\d+)x(\\d+) and (\\d+)x(\\d+)\\)",
                     message)
    return int(found.group(2)), int(found.group(3))
"""

SPLIT_STYLE = """def parse_shape_error(message):
    inside = message[message.rindex("(") + 1:message.rindex(")")]
    first, second = inside.split(" and ")
    return int(first.split("x")[1]), int(second.split("x")[0])
"""

TYPED = """def parse_shape_error(message):
    return (2048, 1024)
"""

ONLY_ERRORS = """def head_fits(model, example, num_classes):
    try:
        with torch.no_grad():
            model.eval()(example)
    except RuntimeError:
        return False
    return True
"""

NO_CATCH = """def head_fits(model, example, num_classes):
    with torch.no_grad():
        out = model.eval()(example)
    return out.shape == (len(example), num_classes)
"""

FITS_OTHER_STYLE = """def head_fits(model, example, num_classes):
    mode = model.training
    model.eval()
    with torch.inference_mode():
        try:
            logits = model(example)
        except RuntimeError as err:
            if "cannot be multiplied" in str(err):
                return False
            raise
        finally:
            model.train(mode)
    return logits.shape == torch.Size([example.shape[0], num_classes])
"""

# Right answers, but the caller's model is left in eval mode.
FITS_NO_RESTORE = """def head_fits(model, example, num_classes):
    try:
        with torch.no_grad():
            out = model.eval()(example)
    except RuntimeError:
        return False
    return tuple(out.shape) == (len(example), num_classes)
"""

# Right answers, but a train-mode forward pass moves the caller's BatchNorm statistics.
FITS_TRAIN_MODE = """def head_fits(model, example, num_classes):
    try:
        with torch.no_grad():
            out = model(example)
    except RuntimeError:
        return False
    return tuple(out.shape) == (len(example), num_classes)
"""

RESNET_TYPED = """def repair_head(model, example):
    model.fc = nn.Linear(2048, model.fc.out_features)
    return model
"""

NUMEL = """def repair_head(model, example):
    info = heads.find_head(model)
    heads.set_module(model, info.path, nn.Identity())
    with torch.no_grad():
        produced = model.eval()(example).numel()
    heads.set_module(model, info.path, nn.Linear(produced, info.module.out_features))
    return model
"""

SHAPE_ZERO = """def repair_head(model, example):
    info = heads.find_head(model)
    heads.set_module(model, info.path, nn.Identity())
    with torch.no_grad():
        produced = model.eval()(example).shape[0]
    heads.set_module(model, info.path, nn.Linear(produced, info.module.out_features))
    return model
"""

OUT_FOR_IN = """def repair_head(model, example):
    info = heads.find_head(model)
    heads.set_module(model, info.path, nn.Linear(info.out_features, info.out_features))
    return model
"""

REPAIR_OTHER_STYLE = """def repair_head(model, example):
    name, old = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent, _, child = name.rpartition(".")
    owner = model.get_submodule(parent) if parent else model
    seen = []
    hook = old.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[1]))
    try:
        with torch.no_grad():
            model.eval()(example)
    except RuntimeError:
        pass
    hook.remove()
    setattr(owner, child, nn.Linear(seen[0], old.out_features))
    return model
"""

CASES = [
    Case("anchored_regex", L, "ex1_answer", ANCHORED, "lesson4.anchored_pattern"),
    Case("parse_with_split", L, "ex1_answer", SPLIT_STYLE, "pass", "pass"),
    Case("parse_typed_numbers", L, "ex1_answer", TYPED, "lesson4.numbers_not_from_message"),
    Case(
        "cause_output_size",
        L,
        "q1_answer",
        'answer_q1 = "A"',
        "lesson4.output_size_blamed",
        named_by="hidden",
    ),
    Case(
        "cause_train_mode",
        L,
        "q1_answer",
        'answer_q1 = "B"',
        "lesson4.mode_blamed",
        named_by="hidden",
    ),
    Case(
        "cause_no_fc",
        L,
        "q1_answer",
        "answer_q1 = 'D'",
        "lesson4.no_fc_when_pretrained",
        named_by="hidden",
    ),
    Case("fits_only_errors", L, "ex3_answer", ONLY_ERRORS, "lesson4.only_errors_checked"),
    Case("fits_error_escapes", L, "ex3_answer", NO_CATCH, "lesson4.shape_error_escapes"),
    Case("fits_other_style", L, "ex3_answer", FITS_OTHER_STYLE, "pass", "pass"),
    Case("fits_no_restore", L, "ex3_answer", FITS_NO_RESTORE, "lesson4.model_changed"),
    Case("fits_train_mode", L, "ex3_answer", FITS_TRAIN_MODE, "lesson4.model_changed"),
    Case(
        "fix_reads_broken_layer",
        L,
        "q2_answer",
        'answer_q2 = "A"',
        "lesson4.broken_in_kept",
        named_by="hidden",
    ),
    Case(
        "fix_eval_mode", L, "q2_answer", 'answer_q2 = "C"', "lesson4.mode_blamed", named_by="hidden"
    ),
    Case("fix_lowercase", L, "q2_answer", "answer_q2 = ' d '", "pass", "pass"),
    Case("repair_resnet_typed", L, "ex5_answer", RESNET_TYPED, "lesson4.resnet_only"),
    Case("repair_numel", L, "ex5_answer", NUMEL, "lesson4.counted_batch"),
    Case("repair_shape_zero", L, "ex5_answer", SHAPE_ZERO, "lesson4.batch_dimension_read"),
    Case("repair_out_for_in", L, "ex5_answer", OUT_FOR_IN, "lesson4.out_for_in"),
    Case("repair_with_hook", L, "ex5_answer", REPAIR_OTHER_STYLE, "pass", "pass"),
]

# Every wrong option of each graded multiple-choice item, named by its hidden test.
CASES += [
    Case(
        "q2_option_b",
        L,
        "q2_answer",
        'answer_q2 = "B"',
        "lesson4.swapped_arguments",
        named_by="hidden",
    ),
]
