#!/usr/bin/env bash
# test_cli.sh — end-to-end tests of the xfmr command-line tool: help texts, exit codes, error
# messages, awkward input (invalid UTF-8, NUL bytes, CRLF, empty and over-long lines), JSON
# lines and .npy output, and that results do not depend on --threads / --batch-size.
#
# usage: tests/test_cli.sh path/to/xfmr      (model: $XFMR_TEST_MODEL or models/all-MiniLM-L6-v2)
# Needs bash and python3; numpy is used when installed. Prints "N passed, M failed, K skipped";
# exits 77 (skipped) when the model is missing.
set -u
# shellcheck source=tests/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"
model=${XFMR_TEST_MODEL:-$here/models/all-MiniLM-L6-v2}
[ -d "$model" ] || skip_test "model folder $model is missing; run scripts/fetch_models.sh"

have_numpy=0
python3 -c 'import numpy' 2>/dev/null && have_numpy=1

# ------------------------------------------------------------------------ help and usage
run 0 "$X" --help
out_has "embed"; out_has "tokenize"; out_has "similarity"; out_has "info"; out_has "Exit status"
run 0 "$X" --version
out_has "xfmr "
run 2 "$X"
err_has "usage"

check_help() { # check_help CMD OPTION...
  local cmd=$1
  shift
  run 0 "$X" "$cmd" --help
  for o in "$@" --help fetch_models.sh Example; do out_has "$o"; done
  cp "$tmp/out" "$tmp/help1"
  run 0 "$X" help "$cmd"
  check "help $cmd == $cmd --help" cmp -s "$tmp/out" "$tmp/help1"
  run 0 "$X" "$cmd" -h
}
check_help embed --model --output --format --batch-size --threads --max-length --weights jsonl npy
run 0 "$X" embed --help
out_has "NUL bytes are kept"
check_help tokenize --model --text --pair --tokens --json --max-length
check_help similarity --model --file --threads --max-length
check_help info --model --json

run 2 "$X" frobnicate
err_has "unknown command 'frobnicate'"
run 2 "$X" --frobnicate
err_has "unknown option"
run 2 "$X" help frobnicate
# the kernels' environment variables: a misspelt value is an error, not ignored
run 2 env XF_ISA=generic "$X" info "$model"
err_has "XF_ISA='generic' is not one of scalar, avx2, avxvnni, avx512"
run 2 env XF_I8_EXACT=yes "$X" tokenize --text hi
err_has "XF_I8_EXACT='yes' is not 0 or 1"
run 0 "$X" --help
out_has "XF_I8_EXACT=1"
for cmd in embed tokenize similarity info; do
  run 2 "$X" "$cmd" --no-such-option
  err_has "unknown option '--no-such-option'"
  err_has "xfmr $cmd --help"
done
for v in 0 4097 abc 12x "" -3 99999999999999999999; do
  run 2 "$X" embed -m "$model" --batch-size "$v" </dev/null
  err_has "--batch-size"
done
for v in -1 1025 two; do
  run 2 "$X" embed -m "$model" --threads "$v" </dev/null
  err_has "--threads"
done
for v in 0 1000001 x; do
  run 2 "$X" embed -m "$model" --max-length="$v" </dev/null
  err_has "--max-length"
done
run 2 "$X" embed -m "$model" --format xml </dev/null
err_has "--format"
run 2 "$X" embed -m "$model" --weights fp16 </dev/null
err_has "'stored', 'int8', 'a8', 'bf16', 'f32' or 'int4'"
# sparsity options: bad values and combinations are usage errors naming the option
run 2 "$X" embed -m "$model" --sparsity 3:8 </dev/null
err_has "only 2:4 has kernels"
run 2 "$X" embed -m "$model" --sparsity 1.5 </dev/null
err_has "'2:4' or a ratio in (0, 1)"
run 2 "$X" embed -m "$model" --sparsity 2:4 --sparsity-method obs </dev/null
err_has "'magnitude', 'wanda' or 'sparsegpt'"
run 2 "$X" embed -m "$model" --sparsity 2:4 --sparsity-method sparsegpt </dev/null
err_has "sparsegpt needs calibration text: --calib FILE"
run 2 "$X" embed -m "$model" --sparsity 2:4 --sparsity-method wanda </dev/null
err_has "needs calibration text: --calib FILE"
run 2 "$X" embed -m "$model" --sparsity-method wanda --calib /dev/null </dev/null
err_has "need --sparsity"
run 2 "$X" embed -m "$model" --sparsity 2:4 --calib /dev/null </dev/null
err_has "wanda or sparsegpt only"
run 1 "$X" embed -m "$model" --sparsity 0.5 --weights int8 </dev/null
err_has "does not combine with weights INT8"
run 2 "$X" embed -m "$model" --sparse-head </dev/null
err_has "--sparse-head prunes the LM head 2:4: it needs --sparsity 2:4"
run 2 "$X" embed -m "$model" --sparsity 0.5 --sparse-head </dev/null
err_has "it needs --sparsity 2:4"
run 1 "$X" embed -m "$model" --sparsity 2:4 --sparse-head </dev/null
err_has "no LM head to prune"
run 2 "$X" embed -m "$model" --output </dev/null
err_has "requires a value"
run 2 "$X" embed -m "$model" a.txt b.txt
run 2 "$X" similarity -m "$model" "only one"
run 2 "$X" similarity -m "$model" a b c
run 2 "$X" similarity -m "$model" --file x.txt a
run 2 "$X" tokenize -m "$model" --text a --tokens --json
run 2 "$X" tokenize -m "$model" --text a file.txt
run 2 "$X" info "$model" "$model"

# ------------------------------------------------------------ missing model / missing file
run 1 "$X" embed -m "$tmp/no/such/model" </dev/null
err_has "$tmp/no/such/model"
run 1 "$X" info -m no-such-model-name
err_has "no-such-model-name"
err_has "fetch_models.sh"
mkdir -p "$tmp/emptymodel"
run 1 "$X" info "$tmp/emptymodel"
err_has "xfmr: error:"
err_has "emptymodel"
run 1 "$X" embed -m "$model" "$tmp/missing-input.txt"
err_has "$tmp/missing-input.txt"
run 1 "$X" similarity -m "$model" --file "$tmp/missing-input.txt"
err_has "$tmp/missing-input.txt"
run 1 "$X" tokenize -m "$model" "$tmp/missing-input.txt"
err_has "$tmp/missing-input.txt"
echo hi >"$tmp/hi.txt"
run 1 "$X" embed -m "$model" -o "$tmp/no/such/dir/out.jsonl" "$tmp/hi.txt"
err_has "$tmp/no/such/dir/out.jsonl"

# ------------------------------------------------------------------ awkward input lines
python3 - "$tmp/mixed.txt" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"A man is eating food.\n")               # 1
    f.write(b"invalid utf-8 \xff\xfe\xc3 here\n")     # 2
    f.write(b"before NUL\x00after NUL\n")             # 3
    f.write(b"\n")                                    # 4 empty
    f.write(b"a CRLF line\r\n")                       # 5
    f.write(b" ".join([b"word"] * 2000) + b"\n")      # 6 over-long
    f.write(b"another\x00NUL\n")                      # 7
    f.write(b"\r\n")                                  # 8 empty CRLF
    f.write(b"last line without newline")             # 9
PY
n_mixed=9
run 0 "$X" embed -m "$model" "$tmp/mixed.txt"
cp "$tmp/out" "$tmp/mixed.jsonl"
check "one output line per input line" test "$(lines_of "$tmp/mixed.jsonl")" -eq "$n_mixed"
check "exactly one truncation notice" test "$(grep -c 'truncated' "$tmp/err")" -eq 1
run 0 "$X" embed -m "$model" --weights int8 "$tmp/mixed.txt"
check "int8 weights: embeddings close to fp32 (cosine >= 0.99)" python3 - "$tmp/mixed.jsonl" "$tmp/out" <<'PY'
import json, math, sys
a = [json.loads(l)["embedding"] for l in open(sys.argv[1])]
b = [json.loads(l)["embedding"] for l in open(sys.argv[2])]
assert len(a) == len(b)
for x, y in zip(a, b):
    cos = sum(u * v for u, v in zip(x, y)) / math.sqrt(sum(u * u for u in x) * sum(v * v for v in y))
    assert cos >= 0.99, cos
PY
err_has "1 of $n_mixed inputs"
check "no NUL warning" test "$(grep -c 'NUL' "$tmp/err")" -eq 0
check "jsonl rows are JSON with indices 0..n-1" python3 - "$tmp/mixed.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["index"] for r in rows] == list(range(len(rows)))
dims = {len(r["embedding"]) for r in rows}
assert len(dims) == 1 and dims.pop() > 0
PY
# A line with NUL bytes is embedded whole, the NULs dropped by the normalizer; CRLF like LF;
# "\r\n" alone like "".
printf 'before NULafter NUL\na CRLF line\n\nanotherNUL\n' >"$tmp/clean.txt"
run 0 "$X" embed -m "$model" "$tmp/clean.txt"
check "NUL/CRLF lines embed like their clean versions" python3 - "$tmp/mixed.jsonl" "$tmp/out" <<'PY'
import json, sys
m = [json.loads(l)["embedding"] for l in open(sys.argv[1])]
c = [json.loads(l)["embedding"] for l in open(sys.argv[2])]
close = lambda a, b: max(abs(x - y) for x, y in zip(a, b)) < 1e-5
assert close(m[2], c[0]) and close(m[4], c[1]) and close(m[3], c[2]) and close(m[7], c[2])
assert close(m[6], c[3])
PY
# NUL is a control character that BertNormalizer removes, so Hugging Face tokenizers gives
# 'ab\x00cd' and 'abcd' the same ids, [101, 5925, 2094, 102] (checked with tokenizers 0.23.3):
# the two lines must embed to the same vector (not to the embedding of 'ab').
printf 'ab\0cd\n' | "$X" embed -m "$model" >"$tmp/nul.jsonl" 2>"$tmp/err"
printf 'abcd\n' | "$X" embed -m "$model" >"$tmp/abcd.jsonl" 2>/dev/null
check "'ab\\0cd' embeds like 'abcd'" cmp -s "$tmp/nul.jsonl" "$tmp/abcd.jsonl"
check "'ab\\0cd' embeds without a warning" test ! -s "$tmp/err"
printf 'ab\0cd\n' | "$X" tokenize -m "$model" >"$tmp/nul.ids" 2>/dev/null
check "'ab\\0cd' tokenizes like HF" test "$(cat "$tmp/nul.ids")" = "101 5925 2094 102"
printf 'ab\0cd\nabcd\n' >"$tmp/nul.txt"
run 0 "$X" similarity -m "$model" --file "$tmp/nul.txt"
check "similarity --file keeps NUL lines whole" grep -Eq '^0  ab cd  +1\.0000  +1\.0000$' "$tmp/out"
# stdin and "-" give the same as the file.
run 0 "$X" embed -m "$model" - <"$tmp/mixed.txt"
check "stdin ('-') == FILE" cmp -s "$tmp/out" "$tmp/mixed.jsonl"
run 0 "$X" embed -m "$model" <"$tmp/mixed.txt"
check "stdin == FILE" cmp -s "$tmp/out" "$tmp/mixed.jsonl"
# shellcheck disable=SC2002  # a real pipe: stdin that cannot be seeked
cat "$tmp/mixed.txt" | "$X" embed -m "$model" >"$tmp/out" 2>"$tmp/err"
check "pipe == FILE" cmp -s "$tmp/out" "$tmp/mixed.jsonl"
# -o FILE == stdout
run 0 "$X" embed -m "$model" -o "$tmp/o.jsonl" "$tmp/mixed.txt"
check "-o FILE == stdout" cmp -s "$tmp/o.jsonl" "$tmp/mixed.jsonl"
# Empty input: no output, exit 0.
: >"$tmp/empty.txt"
run 0 "$X" embed -m "$model" "$tmp/empty.txt"
check "empty input gives no output" test ! -s "$tmp/out"
# Only an empty line: one output.
printf '\n' >"$tmp/one-empty.txt"
run 0 "$X" embed -m "$model" "$tmp/one-empty.txt"
check "one empty line gives one row" test "$(lines_of "$tmp/out")" -eq 1
# A line over 16 MiB is an error naming the line.
python3 -c 'import sys; sys.stdout.write("short\n" + "a" * (17 << 20) + "\n")' >"$tmp/huge.txt"
run 1 "$X" embed -m "$model" "$tmp/huge.txt"
err_has "line 2"
rm -f "$tmp/huge.txt"
# A folder, or a file that does not exist, as the input file: an error naming it.
mkdir -p "$tmp/adir"
run 1 "$X" embed -m "$model" "$tmp/adir"
err_has "is a directory"
run 1 "$X" embed -m "$model" "$tmp/no-such-file.txt"
err_has "no-such-file.txt"
# --max-length makes more inputs truncated.
run 0 "$X" embed -m "$model" --max-length 4 "$tmp/clean.txt"
err_has "longer than 4 tokens"

# -------------------------------------------------------------------------- .npy output
run 0 "$X" embed -m "$model" --format npy -o "$tmp/mixed.npy" "$tmp/mixed.txt"
check "npy header and size" python3 - "$tmp/mixed.npy" "$n_mixed" <<'PY'
import ast, os, struct, sys
path, n = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
assert data[:8] == b"\x93NUMPY\x01\x00", data[:8]
hlen = struct.unpack("<H", data[8:10])[0]
assert (10 + hlen) % 64 == 0 and data[10 + hlen - 1:10 + hlen] == b"\n"
h = ast.literal_eval(data[10:10 + hlen].decode("latin1").strip())
assert h["descr"] == "<f4" and h["fortran_order"] is False
rows, dim = h["shape"]
assert rows == n and dim > 0
assert len(data) == 10 + hlen + rows * dim * 4, (len(data), rows, dim)
PY
if [ "$have_numpy" = 1 ]; then
  check "npy loads with numpy and equals the jsonl" python3 - "$tmp/mixed.npy" "$tmp/mixed.jsonl" <<'PY'
import json, sys, numpy as np
a = np.load(sys.argv[1])
b = np.array([json.loads(l)["embedding"] for l in open(sys.argv[2])], dtype=np.float32)
assert a.dtype == np.float32 and a.shape == b.shape and a.flags.c_contiguous
assert np.array_equal(a, b), np.abs(a - b).max()
PY
else # without numpy: the same comparison with struct (numpy.load itself not exercised)
  check "npy floats equal the jsonl" python3 - "$tmp/mixed.npy" "$tmp/mixed.jsonl" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read(); h = 10 + struct.unpack("<H", d[8:10])[0]
b = [json.loads(l)["embedding"] for l in open(sys.argv[2])]
flat = [struct.unpack("<f", struct.pack("<f", x))[0] for row in b for x in row]
assert list(struct.unpack("<%df" % len(flat), d[h:])) == flat
PY
fi
"$X" embed -m "$model" --format npy <"$tmp/mixed.txt" 2>/dev/null | cat >"$tmp/piped.npy"
check "npy through a pipe == npy to a file" cmp -s "$tmp/piped.npy" "$tmp/mixed.npy"
run 0 "$X" embed -m "$model" --format npy -o "$tmp/empty.npy" "$tmp/empty.txt"
check "empty npy has shape (0, dim)" python3 -c '
import ast, struct, sys
d = open(sys.argv[1], "rb").read(); h = struct.unpack("<H", d[8:10])[0]
assert ast.literal_eval(d[10:10 + h].decode().strip())["shape"][0] == 0 and len(d) == 10 + h
' "$tmp/empty.npy"

# ------------------------------------------ same results for any --threads / --batch-size
python3 - "$tmp/vary.txt" <<'PY'
import sys
words = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex".split()
with open(sys.argv[1], "w") as f:
    for i in range(70):   # varied lengths so that batches need padding
        f.write(" ".join(words[j % len(words)] for j in range(i * 7 % 60 + 1)) + "\n")
PY
run 0 "$X" embed -m "$model" --threads 1 --batch-size 1 "$tmp/vary.txt"
cp "$tmp/out" "$tmp/t1b1.jsonl"
check "70 rows" test "$(lines_of "$tmp/t1b1.jsonl")" -eq 70
for opts in "--threads 2 --batch-size 1" "--threads 1 --batch-size 32" "--threads 2 --batch-size 32" \
            "--threads 0 --batch-size 7"; do
  # shellcheck disable=SC2086
  run 0 "$X" embed -m "$model" $opts "$tmp/vary.txt"
  check "embed $opts == --threads 1 --batch-size 1, bitwise" cmp -s "$tmp/t1b1.jsonl" "$tmp/out"
done

# ----------------------------------------------------------------------------------- info
run 0 "$X" info "$model"
for k in architecture layers hidden heads intermediate vocab "max position" "max length" \
         pooling normalize parameters dtypes bytes files; do out_has "$k"; done
run 0 "$X" info -m "$model" --json
check "info --json parses" python3 -m json.tool "$tmp/out" /dev/null
cp "$tmp/out" "$tmp/info.json"
check "info --json has the fields" python3 - "$tmp/info.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
for k in ("architecture", "n_layers", "hidden", "n_heads", "intermediate", "vocab_size",
          "max_position", "max_length", "embedding_dim", "pooling", "normalize", "n_params",
          "dtypes", "weight_bytes", "file_bytes", "files"):
    assert k in i, k
assert i["n_params"] > 0 and i["embedding_dim"] > 0 and len(i["files"]) >= 1
PY
if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["normalize"] else 1)' \
     "$tmp/info.json" 2>/dev/null; then
  check "normalized model gives unit vectors" python3 - "$tmp/mixed.jsonl" <<'PY'
import json, math, sys
for l in open(sys.argv[1]):
    e = json.loads(l)["embedding"]
    assert abs(math.sqrt(sum(x * x for x in e)) - 1) < 1e-3
PY
fi

# ----------------------------------------------------------------------------- similarity
run 0 "$X" similarity -m "$model" "A man is eating food." "A man is eating food."
check "identical texts -> 1.0000" test "$(cat "$tmp/out")" = "1.0000"
run 0 "$X" similarity -m "$model" "A man is eating food." "The stock market fell sharply."
check "similarity prints 4 decimals" grep -Eq '^-?[01]\.[0-9]{4}$' "$tmp/out"
printf 'A man is eating food.\nA man is eating a piece of bread.\nThe girl is carrying a baby.\n' \
  >"$tmp/sents.txt"
run 0 "$X" similarity -m "$model" --file "$tmp/sents.txt"
check "matrix has a header and one row per line" test "$(lines_of "$tmp/out")" -eq 4
check "matrix diagonal is 1.0000" test "$(grep -c '1\.0000' "$tmp/out")" -ge 3
run 1 "$X" similarity -m "$model" --file "$tmp/empty.txt"
err_has "$tmp/empty.txt"

# ------------------------------------------------------------------------------- tokenize
run 0 "$X" tokenize -m "$model" --text "Hello world"
check "tokenize prints integer ids" grep -Eq '^[0-9]+( [0-9]+)+$' "$tmp/out"
run 0 "$X" tokenize -m "$model" --tokens --text "Hello world"
out_has "hello"
run 0 "$X" tokenize -m "$model" --json --text "Hello world" --pair "second part"
check "tokenize --json parses with matching lengths" python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
assert len(e["ids"]) == len(e["tokens"]) == len(e["type_ids"]) > 0
assert e["type_ids"][0] == 0 and e["type_ids"][-1] == 1
' "$tmp/out"
run 0 "$X" tokenize -m "$model" --max-length 5 "$tmp/mixed.txt"
check "tokenize: one line per input line" test "$(lines_of "$tmp/out")" -eq "$n_mixed"
check "tokenize --max-length 5 caps lengths" awk 'NF > 5 { exit 1 }' "$tmp/out"

# The fetched SmolLM2 GGUF by its name: its tokenizer (tokenizer.ggml.*) without the weights, and
# its description. [19556, 28, 905, 17] is what Hugging Face tokenizers gives with SmolLM2's
# tokenizer.json (tests/data/smollm2_tokenizer.json).
if [ -d "$here/models/SmolLM2-135M-Instruct" ]; then
  run 0 "$X" tokenize -m SmolLM2-135M-Instruct --text "Hello, world!"
  check "tokenize -m SmolLM2-135M-Instruct == Hugging Face" test "$(cat "$tmp/out")" = "19556 28 905 17"
  run 0 "$X" info SmolLM2-135M-Instruct
  out_has "decoder"; out_has "jinja"; out_has "Q4_1"
else
  skip_part "models/SmolLM2-135M-Instruct is missing (scripts/fetch_models.sh SmolLM2-135M-Instruct)"
fi

# ---------------------------------------------- generate / chat / perplexity (tiny llama)
# tests/data/tiny/llama is a random 2-layer llama with a small WordPiece tokenizer: its text is
# odd but deterministic.
tiny=$here/tests/data/tiny/llama
check_help generate --model --prompt --max-tokens --temperature --top-k --top-p --min-p \
  --repeat-penalty --presence-penalty --frequency-penalty --seed --stop --chat --system \
  --chat-template --threads --ctx
check_help chat --model --max-tokens --temperature --system --chat-template /reset /exit
check_help perplexity --model --window --stride --json
run 0 "$X" --help
out_has "generate"; out_has "chat"; out_has "perplexity"
for cmd in generate chat perplexity; do
  run 2 "$X" "$cmd" --no-such-option
  err_has "unknown option '--no-such-option'"
  err_has "xfmr $cmd --help"
done
run 0 "$X" generate -m "$tiny" -p "hello world" --max-tokens 5 --temperature 0
cp "$tmp/out" "$tmp/greedy1"
check "generate greedy prints text" test -s "$tmp/greedy1"
run 0 "$X" generate -m "$tiny" -p "hello world" --max-tokens 5 --temperature 0
check "generate greedy twice: identical output" cmp -s "$tmp/out" "$tmp/greedy1"
run 0 "$X" generate -m "$tiny" -p "hello world" --max-tokens 12 --temperature 0.9 --top-k 40 \
  --top-p 0.95 --min-p 0.01 --repeat-penalty 1.1 --presence-penalty 0.2 --frequency-penalty 0.1 --seed 7
cp "$tmp/out" "$tmp/sampled1"
run 0 "$X" generate -m "$tiny" -p "hello world" --max-tokens 12 --temperature 0.9 --top-k 40 \
  --top-p 0.95 --min-p 0.01 --repeat-penalty 1.1 --presence-penalty 0.2 --frequency-penalty 0.1 --seed 7 \
  --threads 1
check "generate with a seed is reproducible (any --threads)" cmp -s "$tmp/out" "$tmp/sampled1"
# --stop: the text up to the stop string, without it
first=$(head -c 3 "$tmp/greedy1" | cut -c2-3)
if [ -n "$first" ]; then
  run 0 "$X" generate -m "$tiny" -p "hello world" --max-tokens 5 --temperature 0 --stop "$first"
  check "--stop text is not printed" sh -c '! grep -qF -- "$1" "$2"' _ "$first" "$tmp/out"
fi
run 2 "$X" generate -m "$tiny" -p "hello" --temperature -1
err_has "temperature"
for o in "--top-p 0" "--top-p 1.5" "--min-p 1" "--repeat-penalty 0" "--top-k -1" "--max-tokens 0" \
         "--temperature nan" "--presence-penalty inf" "--seed -1" "--ctx 0" "--temperature abc"; do
  # shellcheck disable=SC2086
  run 2 "$X" generate -m "$tiny" -p "hello" $o
  err_has "${o%% *}"
done
run 2 "$X" generate -m "$tiny"
err_has "-p PROMPT"
run 2 "$X" generate -m "$tiny" -p hi --chat --chat-template no-such-format
err_has "chatml"
run 1 "$X" generate -m "$tiny" -p "one two three four five six seven eight nine ten" --ctx 6
err_has "does not fit the context of 6 tokens"
run 1 "$X" generate -m "$tiny" -p hi --chat
err_has "--chat-template"
run 0 "$X" generate -m "$tiny" -p hi --chat --chat-template chatml --system "be brief" --max-tokens 4 \
  --temperature 0
run 1 "$X" generate -m "$model" -p hi --max-tokens 2
err_has "decoder"
# chat, non-interactive
printf 'hi\n/exit\n' >"$tmp/chat.txt"
run 0 "$X" chat -m "$tiny" --chat-template chatml --max-tokens 6 --temperature 0 <"$tmp/chat.txt"
check "chat: one reply line" test "$(lines_of "$tmp/out")" -eq 1
printf 'hi\n\n/reset\nhi\n' >"$tmp/chat2.txt"
run 0 "$X" chat -m "$tiny" --chat-template chatml --max-tokens 6 --temperature 0 <"$tmp/chat2.txt"
check "chat: two replies, /reset restarts" sh -c \
  'test "$(wc -l <"$1" | tr -d " ")" -eq 2 && test "$(sed -n 1p "$1")" = "$(sed -n 2p "$1")"' _ "$tmp/out"
# the tiny tokenizer spells <|im_start|> letter by letter: a second turn overflows 128 tokens
printf 'hi\nhow are you\n' >"$tmp/chat3.txt"
run 1 "$X" chat -m "$tiny" --chat-template chatml --max-tokens 6 --temperature 0 <"$tmp/chat3.txt"
err_has "does not fit the context"
run 1 "$X" chat -m "$tiny" </dev/null
err_has "chat template"
run 2 "$X" chat -m "$tiny" --chat-template nope </dev/null
err_has "chatml"
# the model's own Jinja template: Qwen2.5's (it mentions tools) is rendered, not refused
mkdir -p "$tmp/qwen_tiny"
cp "$tiny"/config.json "$tiny"/model.safetensors "$tiny"/tokenizer.json "$tmp/qwen_tiny/"
python3 -c 'import json, sys; json.dump({"chat_template": open(sys.argv[1]).read()}, open(sys.argv[2], "w"))' \
  "$here/tests/data/jinja/templates/qwen2.5.jinja" "$tmp/qwen_tiny/tokenizer_config.json"
run 0 "$X" generate -m "$tmp/qwen_tiny" -p hi --chat --system s --max-tokens 3 --temperature 0
check "generate --chat with Qwen2.5's template prints text" test -s "$tmp/out"
printf 'hi\n' >"$tmp/chat4.txt"
run 0 "$X" chat -m "$tmp/qwen_tiny" --system s --max-tokens 3 --temperature 0 <"$tmp/chat4.txt"
check "chat with Qwen2.5's template: one reply line" test "$(lines_of "$tmp/out")" -eq 1
printf '{"chat_template": "{%% for m in messages %%}{{ m.content | no_such_filter }}{%% endfor %%}"}' \
  >"$tmp/qwen_tiny/tokenizer_config.json"
run 1 "$X" generate -m "$tmp/qwen_tiny" -p hi --chat
err_has "unknown filter 'no_such_filter'"
err_has "line 1, column"
err_has "--chat-template"
# perplexity
python3 -c '
import sys
w = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex".split()
sys.stdout.write(" ".join(w[(i * 5) % len(w)] for i in range(150)) + "\n")' >"$tmp/ppl.txt"
run 0 "$X" perplexity -m "$tiny" --window 32 --stride 16 "$tmp/ppl.txt"
cp "$tmp/out" "$tmp/ppl.out"
out_has "tokens"; out_has "windows"; out_has "perplexity"
run 0 "$X" perplexity -m "$tiny" --window 32 --stride 16 --json "$tmp/ppl.txt"
check "perplexity: text == library value (4 decimals), finite" python3 - "$tmp/ppl.out" "$tmp/out" <<'PY'
import json, math, sys
txt = dict(l.split(None, 1) for l in open(sys.argv[1]) if l.strip())
j = json.load(open(sys.argv[2]))
p = float(txt["perplexity"])
assert math.isfinite(p) and p > 1, p
assert "%.4f" % j["perplexity"] == txt["perplexity"].strip(), (j, txt)
assert j["tokens"] == int(txt["tokens"]) and j["window"] == 32 and j["stride"] == 16
assert abs(math.exp(j["nll"]) - j["perplexity"]) < 1e-6 * j["perplexity"]
PY
run 0 "$X" perplexity -m "$tiny" - <"$tmp/ppl.txt"
out_has "window 128, stride 64"
run 2 "$X" perplexity -m "$tiny" --window 1 "$tmp/ppl.txt"
err_has "--window"
run 2 "$X" perplexity -m "$tiny" --window 8 --stride 9 "$tmp/ppl.txt"
err_has "--stride"
run 2 "$X" perplexity -m "$tiny"
run 1 "$X" perplexity -m "$tiny" --window 200 "$tmp/ppl.txt"
err_has "max_position_embeddings"
run 1 "$X" perplexity -m "$tiny" "$tmp/missing-input.txt"
err_has "$tmp/missing-input.txt"

# convert: a GGUF file that embeds / generates exactly as the model it came from
printf 'A man is eating food.\nGGUF files hold tensors.\n' >"$tmp/conv.txt"
run 0 "$X" convert -m "$model" -o "$tmp/minilm.gguf"
err_has "wrote $tmp/minilm.gguf"
run 0 "$X" embed -m "$model" "$tmp/conv.txt"
cp "$tmp/out" "$tmp/conv_folder.jsonl"
run 0 "$X" embed -m "$tmp/minilm.gguf" "$tmp/conv.txt"
check "convert: the GGUF embeds bitwise as the folder" cmp -s "$tmp/out" "$tmp/conv_folder.jsonl"
run 0 "$X" convert "$tiny" -o "$tmp/tiny.gguf" --outtype f16
run 0 "$X" perplexity -m "$tiny" --window 32 --stride 16 --json "$tmp/ppl.txt"
cp "$tmp/out" "$tmp/ppl_folder.json"
run 0 "$X" perplexity -m "$tmp/tiny.gguf" --window 32 --stride 16 --json "$tmp/ppl.txt"
check "convert: the tiny decoder (F16 fixture, saved as f16) gives the same perplexity" cmp -s "$tmp/out" "$tmp/ppl_folder.json"
run 2 "$X" convert -m "$tiny"
err_has "-o OUT.gguf"
run 2 "$X" convert -m "$tiny" -o "$tmp"
err_has "is a directory"
run 2 "$X" convert -m "$tiny" -o "$tmp/x.gguf" --outtype q4
err_has "--outtype"
run 2 "$X" convert -m "$tiny" "$tiny" -o "$tmp/x.gguf"
run 1 "$X" convert -m "$tiny" -o "$tmp/no/such/dir/x.gguf"
err_has "No such file or directory"
printf 'old' >"$tmp/limited.gguf"
run 1 bash -c 'ulimit -f 64; exec "$@"' _ "$X" convert -m "$tiny" -o "$tmp/limited.gguf"
err_has "File too large"
check "convert: a failed write leaves the old file and no temporary file" \
  bash -c '[ "$(cat "$1/limited.gguf")" = old ] && ! ls -a "$1" | grep -q "\.tmp$"' _ "$tmp"

cli_finish
