"""Classifier heads over the encoder: CLS pooling (the Hugging Face default) or CLS + marker states.

A window of format 2 wraps each mention of the actor in ``[TGT] ... [/TGT]``. The ``markers`` head
(``model_type: slant_marker_pool`` in a model directory's ``config.json``) reads the encoder's
state at every opening ``[TGT]`` token, averages them, and classifies the concatenation
``[pooled CLS ; mean [TGT] state]`` (entity-start pooling, as in relation classification with
entity markers, and the target-dependent pooling of TD-BERT). The CLS half sees the whole window;
the marker half is what the encoder says *at the actor's mention*, so two actors of one sentence
get different features even when the sentence's mood is one. A window without a marker (a tweet
that never names its target) uses the CLS state in the marker half.

The head is converted from an ordinary sequence classifier without changing what it predicts:
the marker half of the new classifier starts at zero weight, so the converted model starts as the
model it came from, and fine-tuning teaches it to use the marker states.

The classes register themselves with ``transformers``' Auto classes (:func:`register`), so
``AutoModelForSequenceClassification.from_pretrained(model_dir)`` opens such a directory once
``model`` is imported; no remote code is involved.
"""

from __future__ import annotations

from typing import Any

HEADS = ("cls", "markers")
"""``cls``: the encoder's pooled CLS state (format 1 and 2 models before heads). ``markers``: CLS +
the mean state of the opening ``[TGT]`` markers."""

MODEL_TYPE = "slant_marker_pool"

_registered: dict[str, Any] = {}


def register() -> tuple[Any, Any]:
    """Define and register the marker-pooling config and model classes (once); returns them."""
    if _registered:
        return _registered["config"], _registered["model"]
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config_cls = _config_class()
    model_cls = _model_class(config_cls)
    try:
        AutoConfig.register(MODEL_TYPE, config_cls)
        AutoModelForSequenceClassification.register(config_cls, model_cls)
    except ValueError:  # registered by an earlier import of another copy of this module
        pass
    _registered.update(config=config_cls, model=model_cls)
    return config_cls, model_cls


def _config_class() -> Any:
    """The config class (defined on first use: ``transformers`` is imported only then)."""
    from transformers import AutoConfig, PretrainedConfig

    class MarkerPoolConfig(PretrainedConfig):  # type: ignore[misc]
        model_type = MODEL_TYPE

        def __init__(
            self,
            encoder: dict[str, Any] | None = None,
            marker_token_id: int | None = None,
            classifier_dropout: float = 0.1,
            initializer_range: float = 0.02,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.encoder = dict(encoder or {})
            self.marker_token_id = marker_token_id
            self.classifier_dropout = classifier_dropout
            self.initializer_range = initializer_range
            self.hidden_size = int(self.encoder.get("hidden_size", 0))

        def encoder_config(self) -> Any:
            enc = dict(self.encoder)
            return AutoConfig.for_model(enc.pop("model_type"), **enc)

    return MarkerPoolConfig


def _model_class(config_cls: Any) -> Any:
    """The model class over ``config_cls`` (defined on first use, like the config class)."""
    from torch import nn
    from transformers import AutoModel
    from transformers.modeling_outputs import SequenceClassifierOutput
    from transformers.modeling_utils import PreTrainedModel

    class MarkerPoolClassifier(PreTrainedModel):  # type: ignore[misc]
        config_class = config_cls
        base_model_prefix = "encoder"
        supports_gradient_checkpointing = True
        _supports_sdpa = True

        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.encoder = AutoModel.from_config(config.encoder_config())
            width = int(self.encoder.config.hidden_size)
            self.dropout = nn.Dropout(config.classifier_dropout)
            self.classifier = nn.Linear(2 * width, len(config.id2label or {}))
            self.post_init()

        def _init_weights(self, module: Any) -> None:
            if isinstance(module, nn.Linear) and module is self.classifier:
                module.weight.data.normal_(0.0, self.config.initializer_range)
                module.bias.data.zero_()

        def get_input_embeddings(self) -> Any:
            return self.encoder.get_input_embeddings()

        def set_input_embeddings(self, value: Any) -> None:
            self.encoder.set_input_embeddings(value)

        def forward(
            self,
            input_ids: Any = None,
            attention_mask: Any = None,
            token_type_ids: Any = None,
            labels: Any = None,
            output_hidden_states: bool | None = None,
            **kwargs: Any,
        ) -> Any:
            feed = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                feed["token_type_ids"] = token_type_ids
            out = self.encoder(**feed, output_hidden_states=output_hidden_states, return_dict=True)
            features = _cls_and_markers(out, input_ids, self.config.marker_token_id)
            logits = self.classifier(self.dropout(features))
            loss = None
            if labels is not None:
                loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))
            return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)

    return MarkerPoolClassifier


def _cls_and_markers(out: Any, input_ids: Any, marker_token_id: int | None) -> Any:
    """``[pooled CLS ; mean state at the [TGT] markers]`` of an encoder output; a window without a
    marker uses the CLS state in the marker half."""
    import torch

    states = out.last_hidden_state
    pooled = getattr(out, "pooler_output", None)
    cls = pooled if pooled is not None else states[:, 0]
    at = (input_ids == marker_token_id).unsqueeze(-1).to(states.dtype)
    count = at.sum(dim=1)
    marker = (states * at).sum(dim=1) / count.clamp(min=1.0)
    marker = torch.where(count > 0, marker, states[:, 0])
    return torch.cat([cls, marker], dim=-1)


def head_of(model: Any) -> str:
    """``markers`` for a marker-pooling model, else ``cls``."""
    return "markers" if getattr(model.config, "model_type", None) == MODEL_TYPE else "cls"


def with_marker_head(model: Any, marker_token_id: int) -> Any:
    """A marker-pooling classifier that starts as ``model`` (a ``*ForSequenceClassification``).

    The encoder (and its pooler) are ``model``'s own modules; the new classifier's CLS half is
    ``model``'s classifier and its marker half is zero, so the logits are unchanged at first.
    """
    import torch

    if head_of(model) == "markers":
        return model
    config_cls, model_cls = register()
    encoder = model.base_model
    old = _linear_classifier(model)
    enc_config = encoder.config.to_dict()
    for key in ("id2label", "label2id", "num_labels", "architectures", "problem_type"):
        enc_config.pop(key, None)
    config = config_cls(
        encoder=enc_config,
        marker_token_id=int(marker_token_id),
        classifier_dropout=float(getattr(model.config, "hidden_dropout_prob", 0.1) or 0.1),
        id2label=dict(model.config.id2label),
        label2id=dict(model.config.label2id),
    )
    new = model_cls(config)
    new.encoder = encoder
    width = int(encoder.config.hidden_size)
    with torch.no_grad():
        new.classifier.weight.zero_()
        new.classifier.weight[:, :width].copy_(old.weight)
        new.classifier.bias.copy_(old.bias)
    return new.to(dtype=next(model.parameters()).dtype)


def _linear_classifier(model: Any) -> Any:
    """The final linear layer of a sequence classifier whose input is the pooled CLS state."""
    from torch import nn

    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Linear):
        return head
    from .errors import ModelLoadError

    raise ModelLoadError(
        f"cannot add a marker head to {type(model).__name__}: its classifier is not one linear layer "
        "over the pooled CLS state",
        fix="train with `head: cls`, or start from a BERT-style encoder (MiniLM, BERT)",
    )
