"""Lesson 8's misconception corpus: the classic mistakes of a hand-written training loop."""

from misconception_cases import Case

L = "lesson8"

_TRANSFORMS = """def make_transforms(preprocess):
    size = preprocess.crop_size[0]
    normalize = v2.Normalize(mean={mean}, std={std})
    train_tf = v2.Compose([
        v2.ToImage(),
        v2.RandomResizedCrop(size, scale=(0.25, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        normalize,
    ])
    eval_tf = {eval_tf}
    return train_tf, eval_tf


train_tf, eval_tf = make_transforms(preprocess)
"""

TYPED_IMAGENET_STATS = _TRANSFORMS.format(
    mean="[0.485, 0.456, 0.406]",
    std="[0.229, 0.224, 0.225]",
    eval_tf="v2.Compose([v2.ToImage(), v2.Resize(preprocess.resize_size[0], antialias=True), "
    "v2.CenterCrop(size), v2.ToDtype(torch.float32, scale=True), normalize])",
)
AUGMENTED_EVAL = _TRANSFORMS.format(
    mean="preprocess.mean", std="preprocess.std", eval_tf="train_tf  # the same pipeline for both"
)
WEIGHTS_OWN_EVAL = _TRANSFORMS.format(
    mean="preprocess.mean", std="preprocess.std", eval_tf="preprocess  # the weights' own"
)

SHUFFLED_VAL = """def make_loaders(train_set, val_set, batch_size):
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=batch_size, shuffle=True)
    return train_loader, val_loader


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    train_view = data.image_folder(source.folder, transform=train_tf, verify="decode")
    eval_view = data.image_folder(source.folder, transform=eval_tf, verify="decode")
train_set, val_set = Subset(train_view, split.train), Subset(eval_view, split.val)
test_set = Subset(eval_view, split.test)
train_loader, val_loader = make_loaders(train_set, val_set, batch_size=32)
"""

_GROUPS_TAIL = """

model = heads.replace_head(source.make_backbone(), len(folder.classes))
groups = param_groups(model, backbone_lr=1e-3, head_lr=1e-2)
"""

BOTH_GROUPS = (
    """def param_groups(model, backbone_lr, head_lr):
    head = heads.get_module(model, heads.find_head(model).path)
    return [
        {"params": list(model.parameters()), "lr": backbone_lr},
        {"params": list(head.parameters()), "lr": head_lr},
    ]
"""
    + _GROUPS_TAIL
)
LAST_BLOCK_ONLY = (
    """def param_groups(model, backbone_lr, head_lr):
    head = heads.get_module(model, heads.find_head(model).path)
    in_head = {id(p) for p in head.parameters()}
    children = list(model.children())
    backbone = [p for p in children[-3].parameters() if id(p) not in in_head]
    return [{"params": backbone, "lr": backbone_lr}, {"params": list(head.parameters()), "lr": head_lr}]
"""
    + _GROUPS_TAIL
)
RATES_SWAPPED = (
    """def param_groups(model, backbone_lr, head_lr):
    head = heads.get_module(model, heads.find_head(model).path)
    in_head = {id(p) for p in head.parameters()}
    backbone = [p for p in model.parameters() if id(p) not in in_head]
    return [{"params": backbone, "lr": head_lr}, {"params": list(head.parameters()), "lr": backbone_lr}]
"""
    + _GROUPS_TAIL
)

_EPOCH = """def train_one_epoch(model, loader, optimizer, scheduler, loss_fn):
    device = next(model.parameters()).device
{mode}    losses = []
    for x, y in loader:
        x, y = x.to(device), y.to(device)
{zero}        loss = loss_fn({logits}, y)
        loss.backward()
        optimizer.step()
{sched}        losses.append(loss.item())
    return float(np.mean(losses))
"""
_OK = {
    "mode": "    model.train()\n",
    "zero": "        optimizer.zero_grad()\n",
    "logits": "model(x)",
    "sched": "        scheduler.step()\n",
}
NO_ZERO_GRAD = _EPOCH.format(**{**_OK, "zero": ""})
SOFTMAX_FIRST = _EPOCH.format(**{**_OK, "logits": "torch.softmax(model(x), dim=1)"})
NO_SCHEDULER_STEP = _EPOCH.format(**{**_OK, "sched": ""})
NO_TRAIN_MODE = _EPOCH.format(**{**_OK, "mode": ""})
EPOCH_OTHER_STYLE = """def train_one_epoch(model, loader, optimizer, scheduler, loss_fn):
    model.train()
    device = next(model.parameters()).device
    total = 0.0
    for batch, (x, y) in enumerate(loader, start=1):
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item()
    return total / batch
"""

_EVALUATE = """def evaluate(model, loader, loss_fn):
    device = next(model.parameters()).device
{mode}    total, right, n = 0.0, 0, 0
{grad}    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total += loss_fn(logits, y).item() * len(y)
        right += (logits.argmax(1) == y).sum().item()
        n += len(y)
    return total / n, right / n
"""
VALIDATE_IN_TRAIN_MODE = """def evaluate(model, loader, loss_fn):
    total, right, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            total += loss_fn(logits, y).item() * len(y)
            right += (logits.argmax(1) == y).sum().item()
            n += len(y)
    return total / n, right / n
"""
VALIDATE_WITH_GRAD = _EVALUATE.format(mode="    model.eval()\n", grad="")

_FIT = """def fit(model, train_loader, val_loader, optimizer, scheduler, loss_fn, max_epochs, patience):
    history = {{"train_loss": [], "val_loss": [], "best_epoch": 0}}
    best_loss, best_state = float("inf"), None
    for epoch in range(max_epochs):
        history["train_loss"].append(train_one_epoch(model, train_loader, optimizer, scheduler, loss_fn))
        val_loss, _ = evaluate(model, val_loader, loss_fn)
        history["val_loss"].append(val_loss)
        if val_loss < best_loss:
            best_loss, best_state, history["best_epoch"] = val_loss, {keep}, epoch
{stop}    model.load_state_dict(best_state)
    return history
"""
BEST_BY_REFERENCE = _FIT.format(
    keep="model.state_dict()",
    stop="        elif epoch - history['best_epoch'] >= patience:\n            break\n",
)
NO_EARLY_STOPPING = _FIT.format(keep="copy.deepcopy(model.state_dict())", stop="")

SIDEWAYS_PHOTO = """def predict_photo(model, path, eval_tf, classes):
    model.eval()
    with torch.no_grad():
        x = eval_tf(Image.open(path).convert("RGB"))[None]
        probs = model(x).softmax(1)[0]
    return {name: float(p) for name, p in zip(classes, probs)}
"""

CASES = [
    Case(
        "ImageNet statistics typed in",
        L,
        "ex1_answer",
        TYPED_IMAGENET_STATS,
        visible="lesson8.wrong_normalisation",
    ),
    Case(
        "validation augmented like training",
        L,
        "ex1_answer",
        AUGMENTED_EVAL,
        visible="lesson8.augment_eval",
    ),
    Case(
        "the weights' own transforms() for evaluation: right",
        L,
        "ex1_answer",
        WEIGHTS_OWN_EVAL,
        visible="pass",
        graded="pass",
    ),
    Case(
        "validation loader shuffled", L, "ex2_answer", SHUFFLED_VAL, visible="lesson8.shuffle_val"
    ),
    Case(
        "every parameter in the backbone group, the head in both",
        L,
        "ex3_answer",
        BOTH_GROUPS,
        visible="lesson8.duplicated_params",
    ),
    Case(
        "only some backbone layers in the groups",
        L,
        "ex3_answer",
        LAST_BLOCK_ONLY,
        visible="lesson8.missing_params",
    ),
    Case(
        "backbone faster than the head",
        L,
        "ex3_answer",
        RATES_SWAPPED,
        visible="lesson8.rates_swapped",
    ),
    Case("no zero_grad", L, "ex4_answer", NO_ZERO_GRAD, visible="lesson8.no_zero_grad"),
    Case(
        "softmax before CrossEntropyLoss",
        L,
        "ex4_answer",
        SOFTMAX_FIRST,
        visible="lesson8.softmax_before_loss",
    ),
    Case(
        "scheduler never stepped",
        L,
        "ex4_answer",
        NO_SCHEDULER_STEP,
        visible="lesson8.no_scheduler_step",
    ),
    Case(
        "training without model.train()",
        L,
        "ex4_answer",
        NO_TRAIN_MODE,
        visible="lesson8.train_mode_missing",
    ),
    Case(
        "model.zero_grad and a running total: right",
        L,
        "ex4_answer",
        EPOCH_OTHER_STYLE,
        visible="pass",
        graded="pass",
    ),
    Case(
        "validation in train mode",
        L,
        "ex5_answer",
        VALIDATE_IN_TRAIN_MODE,
        visible="lesson8.validate_train_mode",
    ),
    Case(
        "validation with gradients",
        L,
        "ex5_answer",
        VALIDATE_WITH_GRAD,
        visible="lesson8.validate_with_grad",
    ),
    Case(
        "best weights kept by reference",
        L,
        "ex6_answer",
        BEST_BY_REFERENCE,
        visible="lesson8.best_by_reference",
    ),
    Case(
        "no early stopping", L, "ex6_answer", NO_EARLY_STOPPING, visible="lesson8.no_early_stopping"
    ),
    Case(
        "early stopping on the test set",
        L,
        "q1_answer",
        'answer_q1 = "A"\n',
        visible="lesson8.stopped_on_test",
        named_by="hidden",
    ),
    Case(
        "photo opened without its EXIF orientation",
        L,
        "ex7_answer",
        SIDEWAYS_PHOTO,
        visible="lesson8.ignored_exif",
    ),
]

# Every wrong option of each graded multiple-choice item, named by its hidden test.
CASES += [
    Case(
        "q1_option_c",
        L,
        "q1_answer",
        'answer_q1 = "C"',
        "lesson8.no_early_stopping",
        named_by="hidden",
    ),
]
