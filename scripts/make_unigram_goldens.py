#!/usr/bin/env python3
"""make_unigram_goldens.py — Unigram (SentencePiece) test data for tests/test_unigram.c.

1. Trains a SentencePiece unigram model (3,000 pieces, byte fallback, the nmt_nfkc normalization
   rule, whose precompiled_charsmap the model carries) on tests/data/corpus.txt with the
   `sentencepiece` package.
2. Builds the Hugging Face tokenizer of that model the way transformers' SpmConverter does:
   Unigram(pieces, scores, unk_id, byte_fallback) with the normalizer
   Sequence[Precompiled(charsmap), Strip(right), Replace(/ {2,}/, "▁")], the Metaspace
   pre-tokenizer and decoder (prepend_scheme "always"), and the template "$A </s>"; written to
   tests/data/unigram_tokenizer.json.
3. Writes the same model as a GGUF vocabulary in llama.cpp's "t5" form (tokens, scores,
   token types, precompiled_charsmap, add_space_prefix, remove_extra_whitespaces, unk / eos ids)
   to tests/data/unigram_tokenizer.gguf, with the `gguf` package.
4. Encodes every corpus line (bytes split on b"\\n", decoded errors="replace") with
   tokenizers.Tokenizer, add_special_tokens=False, and writes tests/data/unigram_ids.txt: one line
   per corpus line, "COUNT HASH" where HASH is the FNV-1a 64-bit hash (hex) of the ids as
   little-endian int32 — small, and a mismatch names the line (rerun this script to see ids).

5. The same for a smaller model (1,200 pieces, characters covering 98 % of the corpus) with a hand-written charsmap of a few rules (full-width
   A, no-break space, "e" + combining acute as one key, circled digits): a tokenizer.json of a few
   KB for the fuzz seeds, tests/data/unigram_small_tokenizer.json, and unigram_small_ids.txt.

usage: pip install sentencepiece tokenizers gguf; python3 scripts/make_unigram_goldens.py
"""
import os
import struct
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_spm_goldens import corpus_lines  # noqa: E402  (the corpus split as every golden script splits it)


def fnv64(ids):
    h = 0xCBF29CE484222325
    for b in struct.pack(f"<{len(ids)}i", *ids):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def write_hashes(tok, path):
    out = []
    for s in corpus_lines():
        ids = tok.encode(s, add_special_tokens=False).ids
        out.append(f"{len(ids)} {fnv64(ids):016x}")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path} ({len(out)} lines)")


# Rules of the small model's charsmap: source code points -> replacement code points (hex).
SMALL_RULES = "FF21\t41\n00A0\t20\n65 301\tE9\n2460\t31\n2461\t32\n3000\t20\n"


def train(vocab_size, rule_tsv=None, coverage=0.995):
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "uni")
        opts = dict(input=os.path.join(DATA, "corpus.txt"), model_prefix=prefix, vocab_size=vocab_size,
                    model_type="unigram", byte_fallback=True, character_coverage=coverage,
                    max_sentence_length=100000, num_threads=1, minloglevel=2)
        if rule_tsv:
            tsv = os.path.join(tmp, "rules.tsv")
            with open(tsv, "w") as f:
                f.write(rule_tsv)
            opts["normalization_rule_tsv"] = tsv
        else:
            opts["normalization_rule_name"] = "nmt_nfkc"
        spm.SentencePieceTrainer.train(**opts)
        proto = pb.ModelProto()
        with open(prefix + ".model", "rb") as f:
            proto.ParseFromString(f.read())
    return proto


def hf_tokenizer(proto):
    """The tokenizer transformers' SpmConverter makes of a SentencePiece unigram model."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    charsmap = proto.normalizer_spec.precompiled_charsmap
    pieces = [(p.piece, p.score) for p in proto.pieces]
    unk_id = next(i for i, p in enumerate(proto.pieces) if p.type == p.UNKNOWN)
    eos_id = next(i for i, p in enumerate(proto.pieces) if p.piece == "</s>")
    tok = Tokenizer(Unigram(pieces, unk_id=unk_id, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(charsmap),
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "\u2581"),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", eos_id)])
    return tok, unk_id, eos_id


def main():
    proto = train(1200, SMALL_RULES, coverage=0.98)
    tok, _, _ = hf_tokenizer(proto)
    path = os.path.join(DATA, "unigram_small_tokenizer.json")
    tok.save(path, pretty=False)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    write_hashes(tok, os.path.join(DATA, "unigram_small_ids.txt"))

    proto = train(3000)
    charsmap = proto.normalizer_spec.precompiled_charsmap
    tok, unk_id, eos_id = hf_tokenizer(proto)
    path = os.path.join(DATA, "unigram_tokenizer.json")
    tok.save(path, pretty=False)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    import gguf
    path = os.path.join(DATA, "unigram_tokenizer.gguf")
    w = gguf.GGUFWriter(path, "t5")
    w.add_tokenizer_model("t5")
    w.add_tokenizer_pre("default")
    types = {proto.pieces[0].NORMAL: 1, proto.pieces[0].UNKNOWN: 2, proto.pieces[0].CONTROL: 3,
             proto.pieces[0].USER_DEFINED: 4, proto.pieces[0].UNUSED: 5, proto.pieces[0].BYTE: 6}
    w.add_token_list([p.piece for p in proto.pieces])
    w.add_token_scores([p.score for p in proto.pieces])
    w.add_token_types([types[p.type] for p in proto.pieces])
    w.add_add_space_prefix(True)
    w.add_remove_extra_whitespaces(True)
    w.add_precompiled_charsmap(charsmap)
    w.add_unk_token_id(unk_id)
    w.add_eos_token_id(eos_id)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    write_hashes(tok, os.path.join(DATA, "unigram_ids.txt"))


if __name__ == "__main__":
    main()
