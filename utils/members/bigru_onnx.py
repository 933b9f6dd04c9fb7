"""The navec BiGRU member as one ONNX graph (its fold models' probabilities averaged inside it), and running that graph.

The graph takes a padded batch: navec word vectors, the words per row (the GRU nodes' `sequence_lens`, which stands for
torch's packed sequences), the character n-gram ids of the batch's distinct words (one padded row each) and which of
those words sits at each position (each fold model's n-gram table, averaged per word as `nn.EmbeddingBag(mode="mean")`
does). Exporting needs torch and onnx; running, onnxruntime.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .text_pipeline import NavecVectors, WordInputs, preprocessor, text_settings, write_navec

GRAPH, SETTINGS = "bigru.onnx", "bigru.json"
INPUTS, OUTPUT = ["vectors", "lengths", "ngram_ids", "word_index"], "probs"
THREADS = 0  # every core; with spinning off (below), measured faster than 1 thread both with the other core idle and busy


def why_not_exportable(models: Sequence) -> str | None:
    """Why these fold models cannot be exported (None when they can)."""
    from ..training.backbones import NavecBackbone

    if not all(isinstance(model.backbone, NavecBackbone) for model in models):
        return "a Hugging Face backbone has no ONNX export in the kit yet"
    if any(model.backbone.settings.fine_tune for model in models):
        return "fine-tuned navec vectors (model.navec.fine_tune) are not exported yet"
    first = models[0]
    if any(m.config != first.config or m.text != first.text for m in models):
        return "its models differ in settings (model or text)"
    return None


def fold_mean_module(models: Sequence):
    """A torch module: the export's inputs -> the mean of the fold models' sigmoid probabilities (GRUs over padded rows:
    the lengths are given to the ONNX GRU nodes after export)."""
    import torch
    from torch import nn

    from ..training.backbones import pool

    class FoldMean(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnns = nn.ModuleList(model.backbone.rnn for model in models)
            self.heads = nn.ModuleList(model.head for model in models)
            for k, model in enumerate(models):  # each n-gram table with a zero row after it: the padding id of `ngram_ids`
                if model.backbone.ngrams is not None:
                    table = model.backbone.ngrams.weight.detach()
                    self.register_buffer(f"table_{k}", torch.cat([table, torch.zeros(1, table.shape[1])]))
            self.pooling, self.buckets = models[0].backbone.pooling, models[0].backbone.settings.ngram_buckets

        def forward(self, vectors, lengths, ngram_ids, word_index):
            mask = torch.arange(vectors.shape[1])[None] < lengths[:, None]
            counts = (ngram_ids < self.buckets).sum(1, keepdim=True).clamp(min=1).to(vectors.dtype)
            probs = []
            for k, (rnn, head) in enumerate(zip(self.rnns, self.heads)):
                inputs = vectors
                if hasattr(self, f"table_{k}"):
                    means = getattr(self, f"table_{k}")[ngram_ids].sum(1) / counts  # (distinct words, n-gram size)
                    inputs = torch.cat([vectors, means[word_index]], dim=-1)
                probs.append(torch.sigmoid(head(pool(rnn(inputs)[0], mask, self.pooling))))
            return torch.stack(probs).mean(0)

    return FoldMean().eval()


def give_lengths_to_grus(graph) -> int:
    """Set every GRU node's `sequence_lens` to the `lengths` input (as int32): each row's reverse direction then starts at
    its last word, as torch's packed sequences do; returns how many nodes were changed."""
    import onnx

    cast = onnx.helper.make_node("Cast", ["lengths"], ["lengths_int32"], to=onnx.TensorProto.INT32)
    grus = [node for node in graph.node if node.op_type == "GRU"]
    for node in grus:
        inputs = list(node.input) + [""] * (5 - len(node.input))
        inputs[4] = "lengths_int32"
        del node.input[:]
        node.input.extend(inputs)
    graph.node.insert(0, cast)
    return len(grus)


def halve_tables(graph) -> None:
    """The n-gram tables (initializers table_k) stored as float16, each cast to float32 where the graph reads it (onnxruntime
    casts once, when it loads the graph)."""
    import onnx
    from onnx import numpy_helper

    for table in [initializer for initializer in graph.initializer if initializer.name.startswith("table_")]:
        half = numpy_helper.from_array(numpy_helper.to_array(table).astype(np.float16), f"{table.name}_float16")
        graph.node.insert(0, onnx.helper.make_node("Cast", [half.name], [table.name], to=onnx.TensorProto.FLOAT))
        table.CopyFrom(half)


def write_graph(models: Sequence, path: Path, dim: int, float16: bool = False) -> None:
    """Export the fold models' mean as one ONNX graph with a dynamic batch, width and n-gram count (float16 n-gram tables
    when asked)."""
    import onnx
    import torch

    module = fold_mean_module(models)
    buckets = models[0].backbone.settings.ngram_buckets
    example = (torch.randn(2, 3, dim), torch.tensor([3, 2]), torch.tensor([[0, 1, buckets], [2, 3, 4]]),
               torch.tensor([[0, 1, 1], [1, 0, 0]]))
    dynamic = {"vectors": {0: "rows", 1: "width"}, "lengths": {0: "rows"}, "ngram_ids": {0: "words", 1: "grams"},
               "word_index": {0: "rows", 1: "width"}, OUTPUT: {0: "rows"}}
    staging = path.with_name(path.name + ".tmp")
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript-based exporter (dynamo=False: no onnxscript needed) is deprecated but kept in torch 2.13; its warning
        # about GRUs and other batch sizes does not apply here (the initial state is made per batch; tests vary the size)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", "Exporting a model to ONNX with a batch_size other than 1", UserWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # torch's GRU checks its input and state sizes: the model's own
        torch.onnx.export(module, example, str(staging), input_names=INPUTS, output_names=[OUTPUT], dynamic_axes=dynamic,
                          opset_version=17, dynamo=False)
    graph = onnx.load(str(staging))
    if give_lengths_to_grus(graph.graph) != len(models) * models[0].backbone.settings.layers:
        raise RuntimeError(f"{path}: the exported graph has not one GRU node per fold model and layer")
    if float16:
        halve_tables(graph.graph)
    onnx.save(graph, str(staging))
    staging.replace(path)


def export_bigru(models: Sequence, folder: Path, float16: bool = False) -> None:
    """Write the member's graph, settings and navec files into `folder` (the `bigru` kind's export, read by OnnxBiGru)."""
    backbone = models[0].backbone
    navec = backbone.settings
    settings = {"max_len": backbone.max_len, "ngram_min": navec.ngram_min, "ngram_max": navec.ngram_max,
                "ngram_buckets": navec.ngram_buckets, "text": text_settings(models[0].text), "folds": len(models)}
    write_navec(folder, backbone.tokenizer.words)
    write_graph(models, folder / GRAPH, backbone.word_vectors.shape[1], float16)
    (folder / SETTINGS).write_text(json.dumps(settings, ensure_ascii=False, indent=2), encoding="utf-8")


class OnnxBiGru:
    """The exported member: raw texts -> (n, 7) probabilities, batches of similar lengths as the kit predicts."""

    def __init__(self, folder: Path):
        import onnxruntime

        settings = json.loads((folder / SETTINGS).read_text(encoding="utf-8"))
        self.preprocess = preprocessor(settings["text"])
        self.inputs = WordInputs(NavecVectors(folder), settings["max_len"], settings["ngram_min"], settings["ngram_max"],
                                 settings["ngram_buckets"])
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # no warnings on stderr
        options.intra_op_num_threads = THREADS
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # threads sleep when idle: no spin-waits on a busy CPU
        self.session = onnxruntime.InferenceSession(str(folder / GRAPH), options, providers=["CPUExecutionProvider"])

    def probs(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, 7) probabilities; batches of rows of similar word counts, longest first, as the kit predicts."""
        rows = [self.inputs.words(self.preprocess(text)) for text in texts]
        order = np.argsort([-len(words) for words in rows], kind="stable")
        probs = np.zeros((len(rows), self.session.get_outputs()[0].shape[1]), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = self.inputs.batch([rows[i] for i in order[start : start + batch_size]])
            feed = dict(zip(INPUTS, (batch.vectors, batch.lengths, batch.ngram_ids, batch.word_index)))
            probs[order[start : start + batch_size]] = self.session.run([OUTPUT], feed)[0]
        return probs
