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
    models/tiny-clip/pytorch/          CLIP's (openai/clip-vit-base-patch16): CLIPModel, text and vision
                                       towers with projections, CLIP's byte-level BPE with `</w>` and
                                       `<|startoftext|> $A <|endoftext|>` (<|endoftext|> the highest id, the
                                       pad and the pooled token), CLIPImageProcessor (32x32)
    models/tiny-siglip/pytorch/        SigLIP's (google/siglip-base-patch16-224): SiglipModel, a Unigram
                                       tokenizer `$A </s>` (pad = eos = </s>, no attention mask, 64
                                       positions), SiglipImageProcessor (32x32)

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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

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


def unigram_tokenizer(specials: list[str], vocab_size: int, template: tuple[str | None, str] = ("<s>", "</s>")):
    """A SentencePiece-like Unigram tokenizer (NFKC, Metaspace), `<s> $A </s>` (XLM-R's;
    `template` names the first and last token: Gemma's `<bos> $A <eos>`; no first token,
    SigLIP's `$A </s>`)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(corpus(4000, SEED), trainer=trainer)
    tok = settled_unigram(tok, specials)
    first, last = template
    eos = tok.token_to_id(last)
    if first is None:
        single, pair, special_tokens = f"$A {last}", f"$A {last} $B {last}", [(last, eos)]
    else:
        single, pair = f"{first} $A {last}", f"{first} $A {last} {last} $B {last}"
        special_tokens = [(first, tok.token_to_id(first)), (last, eos)]
    tok.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=special_tokens)
    return tok


def settled_unigram(tok, specials: list[str]):
    """`tok` with its Unigram scores rounded to 2 decimals and its pieces ordered by
    (score, piece) after the special tokens, so that two builds of the same seed give the
    same ids: the trainer's scores differ in their last bits from run to run (its sums run
    in hash-map order), and it appends the characters it must keep in hash-map order with
    scores 1e-4 apart."""
    from tokenizers import Tokenizer

    state = json.loads(tok.to_str())
    vocab = state["model"]["vocab"]
    head = [[piece, score] for piece, score in vocab if piece in specials]
    rest = sorted(([piece, round(score, 2)] for piece, score in vocab if piece not in specials),
                  key=lambda p: (-p[1], p[0]))
    state["model"]["vocab"] = head + rest
    state["model"]["unk_id"] = [p for p, _ in state["model"]["vocab"]].index("<unk>")
    return Tokenizer.from_str(json.dumps(state))


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


def clip_bpe_vocab(vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's byte-level BPE, trained here with CLIPTokenizer's own pipeline (NFC, whitespace
    runs to one space, lowercase; CLIP's split regex, ByteLevel; `</w>` ending each word),
    laid out as openai/clip's vocab is: the 256 byte symbols, the same with `</w>`, one
    token per merge in merge order, then <|startoftext|> and <|endoftext|> last (49406 and
    49407 in the real one)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    pipeline = CLIPTokenizer().backend_tokenizer  # the class's normalizer and pre-tokenizer
    tok = Tokenizer(models.BPE(end_of_word_suffix="</w>", continuing_subword_prefix="", unk_token="<|endoftext|>"))
    tok.normalizer = pipeline.normalizer
    tok.pre_tokenizer = pipeline.pre_tokenizer
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, end_of_word_suffix="</w>",
                                  show_progress=False)
    tok.train_from_iterator(corpus(4000, SEED), trainer=trainer)
    merges = [tuple(m) for m in json.loads(tok.to_str())["model"]["merges"]]
    # GPT-2's byte-to-symbol order (printable bytes first), as CLIP's vocab.json has it.
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = [chr(b) for b in printable] + [chr(256 + n) for n in range(256 - len(printable))]
    if sorted(symbols) != sorted(alphabet):
        fail("the byte-level alphabet of `tokenizers` is not GPT-2's 256 symbols", "report a bug")
    vocab: dict[str, int] = {}
    for piece in symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]:
        vocab.setdefault(piece, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, merges


def assert_spread(key: str, what: str, vectors) -> float:
    """Fails unless every two rows of `vectors` have cosine < 0.99 (a gate must be able to
    tell two inputs apart); returns the largest cosine."""
    import torch

    v = torch.nn.functional.normalize(vectors.float(), dim=-1)
    cos = v @ v.T
    cos.fill_diagonal_(-1.0)
    worst = float(cos.max())
    if worst >= 0.99:
        fail(f"{key}: two of the probe {what} have cosine {worst:.4f} >= 0.99", "widen the initializer settings")
    print(f"{key}: probe {what}: largest pairwise cosine {worst:.3f}")
    return worst


def check_round_trip(key: str, folder: pathlib.Path, tokenizer, **kwargs) -> None:
    """Fails unless AutoTokenizer, reloading `folder`, gives the probes the ids `tokenizer` gives."""
    from transformers import AutoTokenizer

    from make_references import PROBES

    want = tokenizer(PROBES, **kwargs)["input_ids"]
    got = AutoTokenizer.from_pretrained(folder)(PROBES, **kwargs)["input_ids"]
    if got != want:
        fail(f"{key}: {folder}'s tokenizer gives other ids after a reload", "save the tokenizer with another class")


def save_multimodal(out: pathlib.Path, key: str, model, tokenizer, processor) -> None:
    """Writes out/pytorch: the whole model (config.json, model.safetensors), the tokenizer
    and the image processor's preprocessor_config.json, each by its own class."""
    hf = out / "pytorch"
    model.eval().save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    processor.save_pretrained(hf)
    reloaded = type(processor).from_pretrained(hf)
    if reloaded.to_dict() != processor.to_dict():
        fail(f"{key}: {hf}/preprocessor_config.json reloads as another processor", "report a bug")


def tiny_clip(out: pathlib.Path) -> None:
    """CLIP's layout (openai/clip-vit-base-patch16): CLIPModel with a causal text tower
    pooled at the first <|endoftext|> and a ViT image tower (class token), each with its
    projection (32 -> 16); 77 text positions; images 32x32 in patches of 8."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    from make_references import PROBES, probe_images

    key = out.name
    torch.manual_seed(SEED)
    vocab, merges = clip_bpe_vocab(vocab_size=700)
    # The real class: it round-trips, as the tokenizer is trained with its own pipeline.
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77, padding_side="right")
    bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    if eos != max(vocab.values()) or pad != eos or bos != eos - 1:
        fail(f"{key}: <|endoftext|> is {eos}, pad {pad}, <|startoftext|> {bos}",
             "<|endoftext|> must be the highest id and the pad token (openai/clip: 49407), <|startoftext|> the one before")
    tower = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 projection_dim=16, initializer_range=0.3, initializer_factor=3.0)
    config = CLIPConfig(
        # Pooling takes the first eos_token_id of each row: it must be the tokenizer's
        # <|endoftext|>, or the text tower silently pools position 0.
        text_config=dict(vocab_size=len(vocab), max_position_embeddings=77, bos_token_id=bos, eos_token_id=eos,
                         pad_token_id=pad, **tower),
        vision_config=dict(image_size=32, patch_size=8, num_channels=3, **tower),
        projection_dim=16,
        # Wide enough that different inputs get clearly different vectors (see assert_spread).
        initializer_factor=3.0,
    )
    model = CLIPModel(config).eval()
    # CLIP's image processor (bicubic, OpenAI's mean/std, shortest edge then centre crop),
    # PIL-based: the default class needs torchvision.
    processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    with torch.inference_mode():
        enc = tokenizer(PROBES, padding=True, truncation=True, max_length=77, return_tensors="pt")
        assert_spread(key, "texts", model.get_text_features(**enc).pooler_output)
        pixels = processor(probe_images(), return_tensors="pt")["pixel_values"]
        assert_spread(key, "images", model.get_image_features(pixel_values=pixels).pooler_output)
    save_multimodal(out, key, model, tokenizer, processor)
    check_round_trip(key, out / "pytorch", tokenizer)


# SigLIP's initializers (LeCun, Xavier) take no range setting: its weight matrices are
# scaled by this after them (x1 leaves two probe texts at cosine 0.96-0.98).
SIGLIP_WIDEN = 2.0


def tiny_siglip(out: pathlib.Path) -> None:
    """SigLIP's layout (google/siglip-base-patch16-224): SiglipModel, a text tower pooled at
    the last position (inputs padded to 64 with </s>, no attention mask) and a ViT image
    tower with the attention-pooling head; width 32 both; 64 text positions; images 32x32
    in patches of 8."""
    import torch
    from transformers import PreTrainedTokenizerFast, SiglipConfig, SiglipImageProcessorPil, SiglipModel

    from make_references import PROBES, probe_images

    key = out.name
    torch.manual_seed(SEED)
    # SigLIP's SentencePiece ids: <pad> 0, </s> 1, <unk> 2; the tokenizer pads with </s>.
    tok = unigram_tokenizer(["<pad>", "</s>", "<unk>"], vocab_size=600, template=(None, "</s>"))
    # SiglipTokenizer needs sentencepiece; the generic class keeps this tokenizer.json as it is.
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="</s>",
        pad_token="</s>",
        unk_token="<unk>",
        padding_side="right",
        model_max_length=64,
        model_input_names=["input_ids"],  # SigLIP's tokenizer returns no attention mask
    )
    eos = tokenizer.eos_token_id
    tower = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    config = SiglipConfig(
        # pad = eos = </s>, no <bos>: as the tokenizer (the text tower pools the last position).
        text_config=dict(vocab_size=tok.get_vocab_size(), max_position_embeddings=64, pad_token_id=eos,
                         eos_token_id=eos, bos_token_id=None, **tower),
        vision_config=dict(image_size=32, patch_size=8, num_channels=3, **tower),
    )
    model = SiglipModel(config).eval()
    # Wide enough that different inputs get clearly different vectors (see assert_spread):
    # every weight matrix but the embeddings (token, position, patch) x SIGLIP_WIDEN.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() >= 2 and "embedding" not in name:
                param.mul_(SIGLIP_WIDEN)
    # SigLIP's image processor (bicubic resize to the square, mean = std = 0.5), PIL-based.
    processor = SiglipImageProcessorPil(size={"height": 32, "width": 32})
    with torch.inference_mode():
        enc = tokenizer(PROBES, padding="max_length", truncation=True, max_length=64, return_tensors="pt")
        assert_spread(key, "texts", model.get_text_features(input_ids=enc["input_ids"]).pooler_output)
        pixels = processor(probe_images(), return_tensors="pt")["pixel_values"]
        assert_spread(key, "images", model.get_image_features(pixel_values=pixels).pooler_output)
    save_multimodal(out, key, model, tokenizer, processor)
    check_round_trip(key, out / "pytorch", tokenizer, padding="max_length", truncation=True, max_length=64)


BUILDERS = {"tiny-xlm-roberta": tiny_xlm_roberta, "tiny-qwen3": tiny_qwen3, "tiny-gemma3": tiny_gemma3,
            "tiny-clip": tiny_clip, "tiny-siglip": tiny_siglip}


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
