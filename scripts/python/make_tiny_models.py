#!/usr/bin/env python3
"""Builds, offline and seeded, one tiny random model per architecture of the
original design, with transformers' real config and model classes, a tokenizer of
the real model's kind trained here with `tokenizers`, and the real model's
sentence-transformers files (pooling, Normalize), so each tiny folder has the
structure of its real model and goes through the same conversion and gate.

    models/tiny-xlm-roberta/pytorch/   BGE-M3's architecture: XLM-RoBERTa, CLS pooling, Normalize
    models/tiny-qwen3/pytorch/         Qwen3-Embedding's: causal decoder with GQA, byte-level BPE
                                       appending <|endoftext|>, left padding, last-token pooling,
                                       Normalize, the query prompt
    models/tiny-gemma3/pytorch/        EmbeddingGemma's: Gemma 3 text with bidirectional attention,
                                       sliding-window and full layers, GQA, Unigram tokenizer
                                       `<bos> $A <eos>`, mean pooling, Dense 32->64->32, Normalize,
                                       the real model's task prompts

    python make_tiny_models.py models [--only tiny-xlm-roberta] [--force]

The weights are random: these models prove that every backend computes what
sentence-transformers computes for the architecture, not that the vectors mean
anything. Facts behind the choices: ../shared/notes/architectures.md.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import random
import shutil
import sys

# Bump when the folders' contents change, so existing ones are rebuilt.
TINY_VERSION = 1
SEED = 20261129
WORDS = (
    "the of and to in is for on with as by at from that this are be or an it not model text vector search "
    "embedding runtime inference batch token sequence latency throughput memory cache query document "
    "schnell langsam Modell Suche Vektor café prix données rapide lent recherche modèle 東京 検索 ベクトル "
    "modelo búsqueda vector rápido lento datos texto consulta documento red neuronal"
).split()


def fail(msg: str, fix: str) -> None:
    print(f"error: {msg}\nfix: {fix}", file=sys.stderr)
    sys.exit(1)


def corpus(n: int, seed: int) -> list[str]:
    """Seeded sentences over a small multilingual word list, for training the tokenizer."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 24))]
        out.append(" ".join(words).capitalize() + rng.choice([".", "?", "!", ""]))
    return out


def unigram_tokenizer(specials: list[str], vocab_size: int, template: tuple[str, str] = ("<s>", "</s>")):
    """A SentencePiece-like Unigram tokenizer (NFKC, Metaspace), `<s> $A </s>` (XLM-R's;
    `template` names the first and last token: Gemma's `<bos> $A <eos>`)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(corpus(4000, SEED), trainer=trainer)
    first, last = template
    bos, eos = tok.token_to_id(first), tok.token_to_id(last)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{first} $A {last}", pair=f"{first} $A {last} {last} $B {last}",
        special_tokens=[(first, bos), (last, eos)]
    )
    return tok


def save_sentence_transformer(out: pathlib.Path, model, tokenizer, pooling_mode: str,
                              prompts: dict[str, str] | None = None, dense: list[int] | None = None) -> None:
    """Saves `model` and `tokenizer` as a sentence-transformers folder in out/pytorch:
    Transformer -> Pooling(`pooling_mode`) -> Dense (no bias, identity; `dense` lists the
    output size of each) -> Normalize, with `prompts`, written by sentence-transformers
    itself (its own modules.json, 1_Pooling, N_Dense, prompts file)."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    hf = out / "hf-staging"
    model.eval().save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    transformer = models.Transformer(str(hf), max_seq_length=512)
    width = transformer.get_embedding_dimension()
    modules = [transformer, models.Pooling(width, pooling_mode=pooling_mode)]
    for size in dense or []:
        modules.append(models.Dense(width, size, bias=False, activation_function=torch.nn.Identity()))
        width = size
    st = SentenceTransformer(modules=modules + [models.Normalize()], device="cpu", prompts=dict(prompts or {}))
    st.save(str(out / "pytorch"))
    shutil.rmtree(hf)


def tiny_xlm_roberta(out: pathlib.Path) -> None:
    """BGE-M3's layout: XLM-RoBERTa (pad id 1, positions offset by it), CLS pooling, Normalize."""
    import torch
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(SEED)
    # XLM-R's special-token ids: <s> 0, <pad> 1, </s> 2, <unk> 3; <mask> last.
    tok = unigram_tokenizer(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], vocab_size=600)
    # transformers 5 rebuilds XLMRobertaTokenizerFast's normalizer and pre-tokenizer from
    # its class defaults on load; the generic class keeps this tokenizer.json as it is.
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=512,
    )
    config = XLMRobertaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=514,  # 512 usable: RoBERTa's positions start after the pad id
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        # Wide enough that different texts get clearly different vectors (0.02 gives
        # CLS cosines of 0.9999 between any two texts, and a gate that cannot tell them apart).
        initializer_range=0.3,
    )
    save_sentence_transformer(out, XLMRobertaModel(config), fast, pooling_mode="cls")


# Qwen3-Embedding's prompts (config_sentence_transformers.json of Qwen/Qwen3-Embedding-0.6B).
QWEN3_PROMPTS = {
    "query": "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
    "document": "",
}


def byte_level_bpe_tokenizer(vocab_size: int):
    """A Qwen2/Qwen3-like byte-level BPE tokenizer: NFC, Qwen2's pre-tokenizer regex, and
    `$A <|endoftext|>` (Qwen3-Embedding appends the end-of-text token: the pooled one)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(4000, SEED) + [QWEN3_PROMPTS["query"]], trainer=trainer)
    eot = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A <|endoftext|>", pair="$A <|endoftext|> $B <|endoftext|>", special_tokens=[("<|endoftext|>", eot)]
    )
    return tok


def tiny_qwen3(out: pathlib.Path) -> None:
    """Qwen3-Embedding's layout: a causal Qwen3 decoder with grouped-query attention (4 query
    heads, 2 key/value heads), tied embeddings, left padding with <|endoftext|> as the pad
    token, last-token pooling, Normalize, and the real model's query/document prompts."""
    import torch
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    torch.manual_seed(SEED)
    tok = byte_level_bpe_tokenizer(vocab_size=800)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        model_max_length=512,
    )
    eot = tok.token_to_id("<|endoftext|>")
    config = Qwen3Config(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=512,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        initializer_range=0.3,
    )
    save_sentence_transformer(out, Qwen3Model(config), fast, pooling_mode="lasttoken", prompts=QWEN3_PROMPTS)


# EmbeddingGemma's task prompts (config_sentence_transformers.json of google/embeddinggemma-300m; a subset).
GEMMA_PROMPTS = {
    "query": "task: search result | query: ",
    "document": "title: none | text: ",
    "Retrieval-query": "task: search result | query: ",
    "Retrieval-document": "title: none | text: ",
    "Classification": "task: classification | query: ",
    "Clustering": "task: clustering | query: ",
    "STS": "task: sentence similarity | query: ",
}


def tiny_gemma3(out: pathlib.Path) -> None:
    """EmbeddingGemma's layout: Gemma 3 text with `use_bidirectional_attention`, a sliding-window
    layer and a full one (a saved window of 4 runs as 4//2+1 = 3 with the flag), GQA (4 query heads,
    2 key/value heads), `<bos> $A <eos>`, right padding, mean pooling, two Dense layers
    (32 -> 64 -> 32, as 768 -> 3072 -> 768), Normalize, and the real model's task prompts."""
    import torch
    from transformers import Gemma3TextConfig, Gemma3TextModel, PreTrainedTokenizerFast

    torch.manual_seed(SEED)
    # Gemma's special-token ids: <pad> 0, <eos> 1, <bos> 2, <unk> 3.
    tok = unigram_tokenizer(["<pad>", "<eos>", "<bos>", "<unk>"], vocab_size=600, template=("<bos>", "<eos>"))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        pad_token="<pad>",
        padding_side="right",
        model_max_length=512,
    )
    config = Gemma3TextConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        query_pre_attn_scalar=8,
        max_position_embeddings=512,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention"],
        use_bidirectional_attention=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        initializer_range=0.3,
    )
    save_sentence_transformer(out, Gemma3TextModel(config), fast, pooling_mode="mean", prompts=GEMMA_PROMPTS,
                              dense=[64, 32])


BUILDERS = {"tiny-xlm-roberta": tiny_xlm_roberta, "tiny-qwen3": tiny_qwen3, "tiny-gemma3": tiny_gemma3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models_dir", type=pathlib.Path, help="where the model folders go (models/)")
    ap.add_argument("--only", choices=sorted(BUILDERS), action="append", help="build just these")
    ap.add_argument("--force", action="store_true", help="rebuild folders that are up to date")
    args = ap.parse_args()
    for key in args.only or sorted(BUILDERS):
        out = args.models_dir / key
        stamp = out / "pytorch" / "tiny_model.json"
        if not args.force and stamp.is_file() and json.loads(stamp.read_text()).get("version") == TINY_VERSION:
            print(f"{key}: up to date ({out})")
            continue
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        BUILDERS[key](out)
        if not (out / "pytorch" / "config.json").is_file():
            fail(f"{key}: no config.json was written under {out / 'pytorch'}", "report a bug")
        stamp.write_text(json.dumps({"version": TINY_VERSION, "seed": SEED, "builder": __file__}, indent=1))
        print(f"{key}: built in {out / 'pytorch'}")


if __name__ == "__main__":
    main()
