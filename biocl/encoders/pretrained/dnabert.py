"""Adapter for pretrained DNA language models (DNABERT-2, DNABERT-S) in a local Hugging Face folder.

The folder is loaded with ``transformers.AutoModel`` / ``AutoTokenizer`` and
``local_files_only=True``: nothing is downloaded. DNABERT-2 and DNABERT-S ship their model
code inside the folder; running it needs ``trust_remote_code``, which is passed through only
when the user asked for it (``--trust-remote-code`` / ``model.trust_remote_code: true``),
never turned on here.

The adapter has the embedding interface of every :class:`biocl.encoders.dna.DnaEncoder`
(``tokenize``, ``forward(tokens, mask, mix)``, ``n_mix_layers``, ``output_dim``), so
:func:`biocl.encoders.dna.embed_sequences` and the C2LR training steps use it like the
default encoder. It is registered as ``"hf_dna"``; biocl does not save it (the folder it
was loaded from is the model, and a run's checkpoints hold its trained weights).

The embedding is the mean of the last layer's hidden states over real tokens (the paper's
pooling). MI-Mix mixes the input of transformer layer ``k`` through a forward hook (layer 0
receives the token embeddings). Attention inside the model keeps the anchor's own mask; the
intersection of both rows' masks is used for pooling. Layers that take unpadded hidden
states with their token ``indices`` (DNABERT-2's layers) are mixed by scattering into a padded
batch and gathering back (:func:`mix_padded_or_unpadded`); ``mix_layers="embeddings"``
restricts mixing to the token embeddings for architectures whose layers take neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from biocl.encoders.base import register_encoder
from biocl.encoders.dna import DnaEncoder
from biocl.utils.docs import fill_doc
from biocl.utils.errors import BioclError
from biocl.utils.imports import soft_import

__all__ = ["PretrainedDnaEncoder", "mix_layer_input", "mix_padded_or_unpadded"]


@register_encoder("hf_dna")
@fill_doc
class PretrainedDnaEncoder(DnaEncoder):
    """A Hugging Face DNA model from a local folder, mean-pooled over its last layer.

    Parameters
    ----------
    path : str | Path
        Folder holding ``config.json``, the weights and the tokenizer files.
    %(trust_remote_code)s
        DNABERT-2/-S need it.
    max_tokens : int
        Tokens per window after tokenisation (the paper: 2,000 BPE tokens for 10 kb).
    mix_layers : {"all", "embeddings"}
        Where MI-Mix may mix: before any layer, or only the token embeddings (models whose
        layers take unpadded hidden states).
    """

    needs_checkpoint: ClassVar[bool] = True

    def __init__(self, path: str | Path, *, trust_remote_code: bool = False, max_tokens: int = 2000,
                 mix_layers: str = "all"):
        super().__init__()
        if mix_layers not in ("all", "embeddings"):
            raise ValueError(f"mix_layers must be 'all' or 'embeddings', got {mix_layers!r}")
        path = Path(path).expanduser()
        if not path.is_dir():
            raise BioclError("pretrained model folder not found", path=path,
                             hint="give the local folder of a Hugging Face checkpoint (nothing is downloaded)")
        if not (path / "config.json").is_file():
            raise BioclError("not a Hugging Face model folder (no config.json)", path=path)
        transformers = soft_import("transformers", "loading a pretrained DNA model")
        # Its advice on model types is not the user's concern; refusals below say what to do.
        quiet = getattr(getattr(transformers, "logging", None), "set_verbosity_error", None)
        if quiet is not None:
            quiet()
        try:
            self.hf_tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(path), local_files_only=True, trust_remote_code=trust_remote_code)
            self.model = transformers.AutoModel.from_pretrained(
                str(path), local_files_only=True, trust_remote_code=trust_remote_code)
        except ValueError as err:
            if "trust_remote_code" in str(err) and not trust_remote_code:
                raise BioclError("this model ships its own code; it runs only if you allow it", path=path,
                                 hint="pass --trust-remote-code (or model.trust_remote_code: true) "
                                      "if you trust the folder") from None
            raise BioclError(f"cannot load the model ({err})", path=path) from None
        except OSError as err:
            raise BioclError(f"cannot load the model or its tokenizer ({err})", path=path) from None
        self.path = path
        self.max_tokens = max_tokens
        self.mix_layers = mix_layers
        self.output_dim = int(self.model.config.hidden_size)
        self._layers = _find_layers(self.model)

    @property
    def n_mix_layers(self) -> int:
        """Layers MI-Mix can mix before (0 = token embeddings)."""
        return 1 if self.mix_layers == "embeddings" else len(self._layers)

    def config(self) -> dict[str, Any]:
        """How this adapter was built (for the run's model card)."""
        return {"path": str(self.path), "max_tokens": self.max_tokens, "mix_layers": self.mix_layers,
                "hidden_size": self.output_dim, "layers": len(self._layers)}

    def tokenize(self, windows: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask of a batch of windows (upper-cased, padded, truncated)."""
        encoded = self.hf_tokenizer([w.upper() for w in windows], padding=True, truncation=True,
                                    max_length=self.max_tokens, return_tensors="pt")
        return encoded["input_ids"], encoded["attention_mask"].bool()

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None,
                mix: tuple[int, torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Mean-pooled last-layer embedding, optionally MI-Mixed before layer ``mix[0]``.

        Parameters
        ----------
        tokens : LongTensor (n, L)
        mask : BoolTensor (n, L) | None
            Attention mask (default: all tokens).
        mix : (layer, lam, perm) | None
            See :func:`biocl.heads.mixing.mix_hidden`.

        Returns
        -------
        Tensor (n, output_dim)
        """
        mask = torch.ones_like(tokens, dtype=torch.bool) if mask is None else mask.bool()
        pool_mask = mask
        handle = None
        if mix is not None:
            layer, lam, perm = mix
            if not 0 <= layer < self.n_mix_layers:
                raise ValueError(f"mix layer {layer} outside 0..{self.n_mix_layers - 1}")
            pool_mask = mask & mask[perm]
            handle = self._register_mix_hook(layer, lam, perm, mask)
        try:
            output = self.model(input_ids=tokens, attention_mask=mask.long())
        finally:
            if handle is not None:
                handle.remove()
        hidden = output[0]
        weights = pool_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def _register_mix_hook(self, layer: int, lam: torch.Tensor, perm: torch.Tensor,
                           mask: torch.Tensor) -> torch.utils.hooks.RemovableHandle:
        if layer == 0:
            embeddings = getattr(self.model, "embeddings", None)
            if embeddings is None:
                embeddings = self.model.get_input_embeddings()
            return embeddings.register_forward_hook(
                lambda module, args, output: mix_padded_or_unpadded(output, None, lam, perm, mask))

        def pre_hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            return mix_layer_input(args, kwargs, lam, perm, mask)

        return self._layers[layer].register_forward_pre_hook(pre_hook, with_kwargs=True)

    @classmethod
    def tiny(cls, checkpoint: str | Path | None = None) -> PretrainedDnaEncoder:
        """The adapter of a tiny checkpoint folder (the contract tests write one), 64 tokens per window."""
        if checkpoint is None:
            raise ValueError("PretrainedDnaEncoder.tiny needs a tiny checkpoint folder")
        return cls(checkpoint, max_tokens=64)

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Random token ids (16 per row) with a padded tail on the last row."""
        vocab = int(self.model.config.vocab_size)
        tokens = torch.randint(min(5, vocab - 1), vocab, (batch_size, 16), generator=generator)
        mask = torch.ones_like(tokens, dtype=torch.bool)
        mask[-1, 12:] = False
        return {"tokens": tokens, "mask": mask}


def mix_padded_or_unpadded(hidden: torch.Tensor, indices: torch.Tensor | None, lam: torch.Tensor,
                           perm: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MI-Mix hidden states given padded ``(n, L, d)`` or unpadded ``(nnz, d)`` with their ``indices``.

    Unpadded states (DNABERT-2's layers) are the real tokens of the flattened ``(n * L)``
    batch at ``indices``; they are scattered into a zero-padded batch, mixed, and gathered back
    at the same positions, so a position the partner lacks mixes with zeros.
    """
    from biocl.heads.mixing import mix_hidden

    if hidden.dim() == 3 and hidden.shape[:2] == mask.shape:
        return mix_hidden(hidden, lam.to(hidden.dtype), perm, attention_mask=mask)[0]
    if hidden.dim() == 2 and indices is not None:
        flat = hidden.new_zeros(mask.numel(), hidden.shape[-1]).index_copy(0, indices, hidden)
        mixed, _ = mix_hidden(flat.view(*mask.shape, -1), lam.to(hidden.dtype), perm, attention_mask=mask)
        return mixed.reshape(mask.numel(), -1).index_select(0, indices)
    raise BioclError(f"MI-Mix cannot read hidden states of shape {tuple(hidden.shape)} for a batch of "
                     f"{tuple(mask.shape)} tokens", hint="set model.mix_layers: embeddings")


def mix_layer_input(args: tuple, kwargs: dict, lam: torch.Tensor, perm: torch.Tensor,
                    mask: torch.Tensor) -> tuple[tuple, dict]:
    """A transformer layer's arguments with its hidden states MI-Mixed.

    Hidden states are the first argument (or ``hidden_states=``); unpadded layers (DNABERT-2)
    also receive ``indices`` as their fifth argument (or ``indices=``).
    """
    indices = args[4] if len(args) > 4 else kwargs.get("indices")
    if args:
        return (mix_padded_or_unpadded(args[0], indices, lam, perm, mask), *args[1:]), kwargs
    kwargs = dict(kwargs)
    kwargs["hidden_states"] = mix_padded_or_unpadded(kwargs["hidden_states"], indices, lam, perm, mask)
    return args, kwargs


def _find_layers(model: nn.Module) -> nn.ModuleList:
    """The model's stack of transformer layers (``encoder.layer`` for BERT-like models)."""
    encoder = getattr(model, "encoder", None)
    if encoder is not None and isinstance(getattr(encoder, "layer", None), nn.ModuleList):
        return encoder.layer
    expected = getattr(model.config, "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and (expected is None or len(module) == expected):
            return module
    raise BioclError("cannot find the model's transformer layers", hint="only BERT-like models are supported")
