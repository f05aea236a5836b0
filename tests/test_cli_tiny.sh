#!/usr/bin/env bash
# test_cli_tiny.sh — xfmr CLI behaviour checked with the committed tiny models only
# (tests/data/tiny), so it runs everywhere: the default model of each command, sampling defaults
# (generation_config.json, random seed), output files (-o the input refused, format from the
# extension, no half-written file), tokenize and info on every model the other commands load,
# help texts that name only fetchable models, option limits, prompts from a file or stdin, the
# speed line, the perplexity progress bar, and info for decoders.
#
# usage: tests/test_cli_tiny.sh path/to/xfmr        Prints "N passed, M failed, K skipped".
set -u
# shellcheck source=tests/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"
tiny=$here/tests/data/tiny
command -v python3 >/dev/null || skip_test "python3 is not installed"

# Short names lead to the tiny models: XFMR_MODELS is searched first.
mkdir -p "$tmp/models"
ln -s "$tiny/llama" "$tmp/models/SmolLM2-135M-Instruct"
ln -s "$tiny/bert" "$tmp/models/all-MiniLM-L6-v2"
export XFMR_MODELS=$tmp/models
python3 -c '
import sys
w = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex".split()
sys.stdout.write(" ".join(w[(i * 5) % len(w)] for i in range(60)) + "\n")' >"$tmp/ppl.txt"

# ------------------------------------------ 1. decoder commands default to the default decoder
run 0 "$X" generate -m "$tiny/llama" -p "hello world" --max-tokens 4 --temperature 0
cp "$tmp/out" "$tmp/greedy"
run 0 "$X" generate -m "$tiny/llama" -p "hello world" -n 4 --temperature 0
check "-n N == --max-tokens N (llama.cpp's short option)" cmp -s "$tmp/out" "$tmp/greedy"
run 0 "$X" generate -p "hello world" --max-tokens 4 --temperature 0
check "generate without -m uses SmolLM2-135M-Instruct" cmp -s "$tmp/out" "$tmp/greedy"
printf 'hi\n' >"$tmp/hi.txt"
run 0 "$X" chat --chat-template chatml --max-tokens 3 --temperature 0 <"$tmp/hi.txt"
run 0 "$X" perplexity "$tmp/ppl.txt"
out_has "window 128" # the tiny llama's max_position_embeddings
run 0 "$X" embed "$tmp/hi.txt" # the encoder default stays
check "embed without -m uses all-MiniLM-L6-v2" python3 -c '
import json, sys; assert len(json.loads(open(sys.argv[1]).read())["embedding"]) == 32' "$tmp/out"
for cmd in generate chat perplexity; do
  run 0 "$X" "$cmd" --help
  out_has "(default: SmolLM2-135M-Instruct)"
done
for cmd in embed similarity tokenize info; do
  run 0 "$X" "$cmd" --help
  out_has "(default: all-MiniLM-L6-v2)"
done

# ------------------------------------------- 2. sampling: the model's defaults, a random seed
gen=("$X" generate -m "$tiny/llama" -p "hello world" --max-tokens 24)
run 0 "${gen[@]}" --temperature 1.5 -v
cp "$tmp/out" "$tmp/s1"
seed=$(sed -n 's/.*; seed \([0-9]*\)$/\1/p' "$tmp/err" | head -n 1)
check "the speed line gives the seed" test -n "$seed"
run 0 "${gen[@]}" --temperature 1.5
check "no --seed: another run samples other text" sh -c '! cmp -s "$1" "$2"' _ "$tmp/out" "$tmp/s1"
run 0 "${gen[@]}" --temperature 1.5 --seed "$seed"
check "--seed with the printed seed repeats the run" cmp -s "$tmp/out" "$tmp/s1"
run 0 "${gen[@]}" -v
err_has "temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat-penalty 1"
err_has "(defaults: xfmr's defaults)"
mkdir -p "$tmp/gc"
for f in config.json model.safetensors tokenizer.json; do ln -s "$tiny/llama/$f" "$tmp/gc/$f"; done
gc_case() { # gc_case JSON EXPECTED-SETTINGS EXPECTED-SOURCE [OPTIONS...]
  local json=$1 want=$2 src=$3
  shift 3
  printf '%s\n' "$json" >"$tmp/gc/generation_config.json"
  run 0 "$X" generate -m "$tmp/gc" -p "hello world" --max-tokens 4 -v "$@"
  err_has "$want"
  err_has "(defaults: $src)"
}
gc_case '{"bos_token_id": 2, "eos_token_id": 3}' "temperature 0.8, top-k 40" "xfmr's defaults"
gc_case '{"do_sample": false, "temperature": 0.6}' "greedy (temperature 0)" generation_config.json
check "do_sample false: the greedy text" cmp -s "$tmp/out" "$tmp/greedy"
gc_case '{"temperature": 0.6, "top_p": 0.9}' "greedy (temperature 0)" generation_config.json
gc_case '{"do_sample": true, "temperature": 0.7, "top_k": 7, "top_p": 0.9, "repetition_penalty": 1.1}' \
  "temperature 0.7, top-k 7, top-p 0.9, min-p 0, repeat-penalty 1.1" generation_config.json
gc_case '{"do_sample": true}' "temperature 1, top-k 50, top-p 1, min-p 0" generation_config.json
gc_case '{"do_sample": true, "temperature": 0.7, "top_k": 7}' "temperature 0.5, top-k 3, top-p 1" \
  generation_config.json --top-k 3 --temperature 0.5
gc_case '{"do_sample": true, "temperature": -1}' "temperature 0.8, top-k 40" "xfmr's defaults"
err_has "generation_config.json"
err_has "temperature"
printf '{"do_sample": true, "top_k": 5}\n' >"$tmp/gc/generation_config.json"
run 0 "$X" chat -m "$tmp/gc" --chat-template chatml --max-tokens 2 -v <"$tmp/hi.txt"
err_has "top-k 5"

# -------------------------------------------------------------------- 4. embed output files
emb=("$X" embed -m "$tiny/bert")
printf 'a b\nc d\n' >"$tmp/in.txt"
cp "$tmp/in.txt" "$tmp/in.bak"
run 2 "${emb[@]}" -o "$tmp/in.txt" "$tmp/in.txt"
err_has "is the input file"
run 2 "${emb[@]}" -o in.txt <"$tmp/in.txt"
err_has "is the input file"
ln -s in.txt "$tmp/link.txt"
run 2 "${emb[@]}" -o "$tmp/link.txt" in.txt
mkdir -p "$tmp/sub"
(cd "$tmp/sub" && "${emb[@]}" -o ../in.txt "$tmp/in.txt" >/dev/null 2>&1)
check "-o ../in.txt of in.txt refused" test $? -eq 2
check "the input is never truncated" cmp -s "$tmp/in.txt" "$tmp/in.bak"
run 0 "${emb[@]}" -o "$tmp/v.npy" in.txt
check ".npy from the extension" python3 -c '
import sys; d = open(sys.argv[1], "rb").read(); assert d[:6] == b"\x93NUMPY" and len(d) == 128 + 2 * 32 * 4' "$tmp/v.npy"
run 0 "${emb[@]}" -o "$tmp/v.json" in.txt
check ".json: one JSON array" python3 -c '
import json, sys; a = json.load(open(sys.argv[1])); assert [r["index"] for r in a] == [0, 1] and len(a[1]["embedding"]) == 32' "$tmp/v.json"
run 0 "${emb[@]}" -o "$tmp/v.csv" in.txt
check ".csv: 2 lines of 32 numbers" python3 -c '
import sys; r = [l.split(",") for l in open(sys.argv[1])]; assert len(r) == 2 and all(len(x) == 32 for x in r); float(r[1][31])' "$tmp/v.csv"
run 0 "${emb[@]}" -o "$tmp/v.tsv" in.txt
check ".tsv: tab-separated" python3 -c '
import sys; r = [l.split("\t") for l in open(sys.argv[1])]; assert len(r) == 2 and all(len(x) == 32 for x in r)' "$tmp/v.tsv"
run 0 "${emb[@]}" -o "$tmp/v.jsonl" in.txt
cp "$tmp/v.jsonl" "$tmp/ref.jsonl"
run 0 "${emb[@]}" --format jsonl -o "$tmp/x.npy" in.txt
check "--format wins over the extension" cmp -s "$tmp/x.npy" "$tmp/ref.jsonl"
run 0 "${emb[@]}" in.txt
check "stdout: jsonl" cmp -s "$tmp/out" "$tmp/ref.jsonl"
(umask 022 && "${emb[@]}" -o "$tmp/mode.jsonl" in.txt 2>/dev/null)
check "a new output file has the usual mode (0644 under umask 022)" test "$(stat -c %a "$tmp/mode.jsonl")" = 644
# An error after 256 lines were written: the old file stays whole, a new one never appears, and no
# temporary file is left.
python3 -c 'import sys; sys.stdout.write("x\n" * 300 + "a" * (17 << 20) + "\n")' >"$tmp/huge.txt"
echo "old contents" >"$tmp/keep.jsonl"
run 1 "${emb[@]}" -o "$tmp/keep.jsonl" "$tmp/huge.txt"
err_has "line 301"
check "failed run: the existing output is untouched" test "$(cat "$tmp/keep.jsonl")" = "old contents"
run 1 "${emb[@]}" -o "$tmp/new.npy" "$tmp/huge.txt"
check "failed run: no new output file" test ! -e "$tmp/new.npy"
check "failed run: no temporary file left" test -z "$(find "$tmp" -maxdepth 1 -name '.*.??????')"
rm -f "$tmp/huge.txt"
run 0 "${emb[@]}" -o /dev/null in.txt

# ------------------------------------------------- 5. tokenize and info on every loadable model
mkdir -p "$tmp/gguf_only"
ln -s "$tiny/llama_q.gguf" "$tmp/gguf_only/model.gguf"
for m in "$tiny"/*/ "$tiny/llama_q.gguf" "$tmp/gguf_only"; do
  m=${m%/}
  run 0 "$X" info "$m"
  if grep -q "^kind  *decoder" "$tmp/out"; then
    run 0 "$X" generate -m "$m" -p "hello" --max-tokens 1 --temperature 0
  else
    run 0 "$X" embed -m "$m" "$tmp/hi.txt"
  fi
  run 0 "$X" tokenize -m "$m" --text "hello world"
  check "tokenize -m $(basename "$m"): ids" grep -Eq '^[0-9]+( [0-9]+)*$' "$tmp/out"
done
run 0 "$X" tokenize -m "$tiny/llama/tokenizer.json" --text "hello world"
mkdir -p "$tmp/notok"
for f in config.json model.safetensors; do ln -s "$tiny/llama/$f" "$tmp/notok/$f"; done
run 1 "$X" tokenize -m "$tmp/notok" --text "hello"
err_has "tokenizer.json"
run 1 "$X" generate -m "$tmp/notok" -p "hello"
err_has "has no tokenizer"

# ------------------------------------------------ 6. help texts name only fetchable models
fetchable=$(sed -n 's/^\([A-Za-z0-9][^|]*\)|[^|]*==.*/\1/p' "$here/scripts/fetch_models.sh" | sort | tr '\n' ' ')
check "scripts/fetch_models.sh has a registry" test -n "$fetchable"
run 0 "$X" --help
check "--help lists what fetch_models.sh fetches" python3 - "$tmp/out" "$fetchable" <<'PY'
import re, sys
m = re.search(r"fetch_models\.sh fetches ([^.]*?)\.\n", open(sys.argv[1]).read())
assert m and sorted(x.strip() for x in m.group(1).split(",")) == sys.argv[2].split(), m and m.group(1)
PY
for cmd in "" embed tokenize similarity info generate chat perplexity serve; do
  # shellcheck disable=SC2086
  "$X" $cmd --help >"$tmp/help_${cmd:-main}.txt"
done
check "help texts, README and docs/CLI.md name only fetchable models" python3 - "$fetchable" \
  "$tmp"/help_*.txt "$here/README.md" "$here/docs/CLI.md" <<'PY'
import re, sys
known = set(sys.argv[1].split())
bad = []
for path in sys.argv[2:]:
    text = open(path).read()
    for m in re.finditer(r"(?:(?<![\w-])(?<!python3 )-m|--model)[ =]([^\s\"'\\`|)]+)|xfmr info ([^\s\"'\\`|)-][^\s\"'\\`|)]*)", text):
        name = m.group(1) or m.group(2)
        if "/" in name or name.endswith(".gguf") or name.isupper() or name.startswith("$") or name in known:
            continue
        bad.append("%s: %s" % (path, name))
assert not bad, bad
PY
run 1 "$X" info -m SmolLM2-135M
err_has "fetches only all-MiniLM-L6-v2, SmolLM2-135M-Instruct"
err_lacks "Fetch it with"
run 1 "$X" generate -m ./no/such.gguf -p hi
err_has "./no/such.gguf"

# -------------------------------------------------------------------------- 7. option limits
run 2 "${gen[@]}" --seed 18446744073709551616
err_has "--seed"
run 2 "${gen[@]}" --seed 99999999999999999999999
run 0 "${gen[@]}" --seed 18446744073709551615 --max-tokens 2
printf 'the quick brown fox\n' >"$tmp/short.txt"
run 1 "$X" perplexity -m "$tiny/llama" --window 1000 "$tmp/short.txt"
err_has "max_position_embeddings"
# The decoder architectures the help texts list are the library's (its error lists them, with the
# encoders bert and modernbert).
mkdir -p "$tmp/nope"
sed 's/"model_type": "llama"/"model_type": "nope"/' "$tiny/llama/config.json" >"$tmp/nope/config.json"
for f in model.safetensors tokenizer.json; do ln -s "$tiny/llama/$f" "$tmp/nope/$f"; done
run 1 "$X" info "$tmp/nope"
archs=$(sed -n 's/.*(supported: \([^)]*\)).*/\1/p' "$tmp/err" | tr -d ' ' | tr ',' '\n' | grep -vxE 'bert|modernbert' | sort | tr '\n' ' ')
check "the library lists its architectures" test -n "$archs"
for h in main generate chat perplexity; do
  check "$h --help lists the decoders $archs" python3 - "$tmp/help_$h.txt" "$archs" <<'PY'
import re, sys
text = " ".join(open(sys.argv[1]).read().split())
want = sys.argv[2].split()
assert any(sorted(x.strip() for x in m.split(",")) == want for m in re.findall(r"\(((?:\w+, )+\w+)[;)]", text)), want
PY
done

# --------------------------------------------- 8. prompt from a file / stdin, speed, progress
printf 'hello world\n' >"$tmp/prompt.txt"
g0=("$X" generate -m "$tiny/llama" --max-tokens 4 --temperature 0)
run 0 "${g0[@]}" -f "$tmp/prompt.txt"
check "-f FILE == -p TEXT" cmp -s "$tmp/out" "$tmp/greedy"
err_has "tokens/s"
err_has "generated 4 tokens"
run 0 "${g0[@]}" -p - <"$tmp/prompt.txt"
check "-p - == -p TEXT" cmp -s "$tmp/out" "$tmp/greedy"
run 0 "${g0[@]}" -f - <"$tmp/prompt.txt"
check "-f - == -p TEXT" cmp -s "$tmp/out" "$tmp/greedy"
run 2 "${g0[@]}" -p hi -f "$tmp/prompt.txt"
# KV options that would be ignored are usage errors (a budget with nothing evicting, a page size without Quest)
run 2 "${g0[@]}" -p hi --kv-budget 64
err_has "--kv-budget 64 has no effect without an evicting --kv-policy"
run 2 "${g0[@]}" -p hi --kv-policy keep-all --kv-budget 64
run 2 "${g0[@]}" -p hi --quest-page 8
err_has "--quest-page 8 has no effect without --quest N"
run 2 "$X" eval -m "$tiny/llama" --task passkey --kv-budget 64
run 0 "${g0[@]}" -p hi --kv-policy streaming --kv-budget 64
run 0 "${g0[@]}" -p hi --quest 32 --quest-page 8
run 1 "${g0[@]}" -f "$tmp/no-such-prompt.txt"
err_has "no-such-prompt.txt"
run 0 "${g0[@]}" --chat --chat-template chatml -f "$tmp/prompt.txt"
run 0 "$X" perplexity -m "$tiny/llama" --window 16 --stride 4 "$tmp/ppl.txt"
err_lacks "windows/s" # stderr is not a terminal: no bar
if command -v script >/dev/null; then
  script -qec "'$X' perplexity -m '$tiny/llama' --window 16 --stride 4 '$tmp/ppl.txt'" /dev/null \
    >"$tmp/tty.txt" 2>&1
  check "perplexity on a terminal: a progress bar over the windows" grep -q "windows/s" "$tmp/tty.txt"
  check "perplexity on a terminal: the bar reaches the last window" grep -Eq "([0-9]+)/\1 100%" "$tmp/tty.txt"
else
  skip_part "script (util-linux) is not installed: no terminal for the progress bar"
fi

# ------------------------------------------------------------------- 9. info on a decoder
run 0 "$X" info "$tiny/llama"
for k in decoder "kv heads" "head dim" "rope theta" "eos id" "chat template" tokenizer; do out_has "$k"; done
for k in pooling normalize "embedding dim"; do out_lacks "$k"; done
run 0 "$X" info "$tiny/llama" --json
check "info --json of a decoder" python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))
assert i["kind"] == "decoder" and i["n_kv_heads"] == 2 and i["head_dim"] == 16 and i["eos_token_id"] == 3
assert "pooling" not in i and i["has_tokenizer"] is True' "$tmp/out"
run 0 "$X" info "$tiny/bert"
for k in encoder pooling normalize "embedding dim"; do out_has "$k"; done
# ModernBERT: each layer's span (global, local within 8 positions), and the same from its GGUF
run 0 "$X" info "$tiny/modernbert"
out_has "attention      full,local 8,local 8,full"
run 0 "$X" info "$tiny/modernbert_bias.gguf" --json
check "info --json lists ModernBERT's spans" python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))
assert i["architecture"] == "modernbert" and i["kind"] == "encoder" and i["attn_spans"] == "full,local 5,full,local 5,full"' "$tmp/out"
# xfmr embed on the GGUF (its own tokenizer) gives the pooled goldens of the folder
cut -f1 "$tiny/modernbert/ref_emb.txt" >"$tmp/mb.txt"
run 0 "$X" embed -m "$tiny/modernbert.gguf" "$tmp/mb.txt"
check "embed of ModernBERT's GGUF matches transformers' mean pooling" python3 -c '
import json, sys
got = [json.loads(l)["embedding"] for l in open(sys.argv[1])]
ref = [[float(x) for x in l.rstrip("\n").split("\t")[1].split()] for l in open(sys.argv[2])]
assert len(got) == len(ref) == 4 and all(len(g) == 64 for g in got)
assert max(abs(a - b) for g, r in zip(got, ref) for a, b in zip(g, r)) < 1e-5' "$tmp/out" "$tiny/modernbert/ref_emb.txt"
out_lacks "kv heads"
run 0 "$X" info "$tmp/notok"
out_has "tokenizer      no"

# ------------------------------------------------------------------- 10. quantize
printf 'the quick brown fox\nhello world\n' >"$tmp/q.txt"
run 0 "$X" quantize -m "$tiny/bert" --type Q8_0 -o "$tmp/bert-q8.gguf"
err_has "wrote $tmp/bert-q8.gguf"
run 0 "$X" embed -m "$tmp/bert-q8.gguf" "$tmp/q.txt"
check "quantize: the Q8_0 file embeds" test "$(lines_of "$tmp/out")" = 2
(cd "$tmp" && "$X" quantize "$tiny/bert/" -t q4_k >"$tmp/out" 2>"$tmp/err")
check "quantize: default output NAME-TYPE.gguf in the current directory" test -s "$tmp/bert-Q4_K.gguf"
run 2 "$X" quantize -m "$tiny/bert" --type Q3_X -o "$tmp/bad.gguf"
err_has "valid types: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, MXFP4, FP4S, FP8S"
run 2 "$X" quantize -m "$tiny/bert" -o "$tmp/bad.gguf"
err_has "--type"
run 2 "$X" quantize -m "$tiny/bert" --type Q4_0 -o "$tmp"
run 1 "$X" quantize -m "$tiny/bert" --type Q4_0 -o "$tmp/no/such/dir/x.gguf"
check "quantize: no output file on errors" test ! -e "$tmp/bad.gguf"
check "quantize: no temporary file left" test -z "$(find "$tmp" -name '*.tmp*')"
run 0 "$X" quantize --help
out_has "MXFP4"
printf 'calibration text for the searched scales\n' >"$tmp/calib.txt"
run 0 "$X" quantize -m "$tiny/bert" --type Q4_0 --calib "$tmp/calib.txt" -o "$tmp/bert-q4s.gguf"
run 0 "$X" embed -m "$tmp/bert-q4s.gguf" "$tmp/q.txt"
run 0 "$X" quantize -m "$tiny/bert" --type FP4S --calib "$tmp/calib.txt" -o "$tmp/bert-fp4s.gguf"
run 0 "$X" embed -m "$tmp/bert-fp4s.gguf" "$tmp/q.txt"
check "quantize: the FP4S file embeds" test "$(lines_of "$tmp/out")" = 2
run 0 "$X" quantize -m "$tiny/bert" --type FP8S --calib "$tmp/calib.txt" -o "$tmp/bert-fp8s.gguf"
run 0 "$X" embed -m "$tmp/bert-fp8s.gguf" "$tmp/q.txt"
check "quantize: the FP8S file embeds" test "$(lines_of "$tmp/out")" = 2
run 0 "$X" quantize -m "$tiny/bert" --type fp4s -o "$tmp/bert-fp4r.gguf"
run 0 "$X" info "$tmp/bert-fp4r.gguf"
out_has "FP4S"
run 2 "$X" quantize -m "$tiny/bert" --type Q4_1 --calib "$tmp/calib.txt" -o "$tmp/bad.gguf"
err_has "--type Q4_0"
run 1 "$X" quantize -m "$tiny/bert" --type Q4_0 --calib "$tmp/no-such-calib.txt" -o "$tmp/bad.gguf"
check "quantize --calib: no output file on errors" test ! -e "$tmp/bad.gguf"
# mixed precision: the bits per weight of the blocks land under the target, info says what it is
run 0 "$X" quantize -m "$tiny/llama" --target-bpw 5 --calib "$tmp/calib.txt" -o "$tmp/llama-mix.gguf"
run 0 "$X" info "$tmp/llama-mix.gguf"
out_has "xfmr mixture, target 5 bpw"
run 0 "$X" generate -m "$tmp/llama-mix.gguf" --max-tokens 2 -p hi
run 1 "$X" quantize -m "$tiny/llama" --target-bpw 4 --calib "$tmp/calib.txt" -o "$tmp/bad.gguf"
err_has "cannot be met"
run 1 "$X" quantize -m "$tiny/llama" --target-bpw 5 --mix-types Q4_0,Q9_9 --calib "$tmp/calib.txt" -o "$tmp/bad.gguf"
err_has "Q9_9"
run 2 "$X" quantize -m "$tiny/llama" --target-bpw 5 -o "$tmp/bad.gguf"
err_has "--calib"
run 2 "$X" quantize -m "$tiny/llama" --target-bpw 5 --type Q4_0 --calib "$tmp/calib.txt" -o "$tmp/bad.gguf"
run 2 "$X" quantize -m "$tiny/llama" --target-bpw x --calib "$tmp/calib.txt" -o "$tmp/bad.gguf"
check "quantize --target-bpw: no output file on errors" test ! -e "$tmp/bad.gguf"
check "quantize --target-bpw: no temporary file left" test -z "$(find "$tmp" -name '*.tmp*')"
# a quality target: the smallest mixture within it, by bisection; one nothing meets is an error
run 0 "$X" quantize -m "$tiny/bert" --max-ppl-increase 0.3% --calib "$tmp/q.txt" -o "$tmp/bert-ppl.gguf"
err_has "candidate 1 (of at most 9): 8.5000 bits per weight"
run 0 "$X" info "$tmp/bert-ppl.gguf"
out_has "chosen for max cosine loss 0.3%"
run 0 "$X" embed -m "$tmp/bert-ppl.gguf" "$tmp/q.txt"
run 0 "$X" quantize -m "$tiny/llama" --max-ppl-increase 1 --mix-types Q4_0,Q8_0 --calib "$tmp/calib.txt" -o "$tmp/llama-ppl.gguf"
run 0 "$X" info "$tmp/llama-ppl.gguf"
out_has "chosen for max perplexity increase 1%"
run 1 "$X" quantize -m "$tiny/bert" --max-ppl-increase 0.00001% --calib "$tmp/q.txt" -o "$tmp/bad.gguf"
err_has "cannot be met"
run 2 "$X" quantize -m "$tiny/bert" --max-ppl-increase 2% -o "$tmp/bad.gguf"
err_has "--calib"
run 2 "$X" quantize -m "$tiny/bert" --max-ppl-increase 2% --target-bpw 5 --calib "$tmp/q.txt" -o "$tmp/bad.gguf"
run 2 "$X" quantize -m "$tiny/bert" --max-ppl-increase -1% --calib "$tmp/q.txt" -o "$tmp/bad.gguf"
run 2 "$X" quantize -m "$tiny/bert" --max-ppl-increase 2%% --calib "$tmp/q.txt" -o "$tmp/bad.gguf"
check "quantize --max-ppl-increase: no output file on errors" test ! -e "$tmp/bad.gguf"
check "quantize --max-ppl-increase: no temporary or candidate file left" test -z "$(find "$tmp" -name '*.tmp*' -o -name '*search-tmp*')"

# ------------------------------------------------------------------- 11. compress
printf 'the quick brown fox jumps over the lazy dog. %.0s' $(seq 1 40) >"$tmp/ccalib.txt"
run 0 "$X" compress -m "$tiny/llama" --method heads,ffn --heads-prune 0.25 --ffn-keep 0.5,0.75 \
  --calib "$tmp/ccalib.txt" -o "$tmp/llama-c.gguf"
err_has "wrote $tmp/llama-c.gguf"
run 0 "$X" info "$tmp/llama-c.gguf"
out_has "heads          3"
run 0 "$X" compress -m "$tiny/bert" --method heads,Q8_0 --heads-prune 0.5 --calib "$tmp/ccalib.txt" -o "$tmp/bert-c.gguf"
run 0 "$X" embed -m "$tmp/bert-c.gguf" "$tmp/q.txt"
check "compress: the head-pruned Q8_0 file embeds" test "$(lines_of "$tmp/out")" = 2
run 2 "$X" compress -m "$tiny/llama" --method heads --heads-prune 1 --calib "$tmp/ccalib.txt" -o "$tmp/bad.gguf"
err_has "heads_prune 1 is outside [0, 1)"
run 2 "$X" compress -m "$tiny/llama" --method ffn --ffn-keep 0.5,0.5,0.5 --calib "$tmp/ccalib.txt" -o "$tmp/bad.gguf"
err_has "3 per-layer values for a model of 2 layers"
run 2 "$X" compress -m "$tiny/llama" --method heads,squeeze --calib "$tmp/ccalib.txt" -o "$tmp/bad.gguf"
err_has 'unknown compression method "squeeze"'
run 2 "$X" compress -m "$tiny/llama" --method heads -o "$tmp/bad.gguf"
err_has "calibration text"
run 2 "$X" compress -m "$tiny/llama" --method heads,Q8_0,Q4_0 --calib "$tmp/ccalib.txt" -o "$tmp/bad.gguf"
run 2 "$X" compress -m "$tiny/llama" --calib "$tmp/ccalib.txt" -o "$tmp/bad.gguf"
err_has "--method"
run 2 "$X" compress -m "$tiny/llama" --method heads --heads-prune 0.5 --sparse-head --calib "$tmp/ccalib.txt" -o "$tmp/bad.gguf"
err_has "it needs the 2:4 method"
run 1 "$X" compress -m "$tiny/bert" --method 2:4 --sparse-head -o "$tmp/bad.gguf"
err_has "no LM head to prune (an encoder)"
check "compress: no output file on errors" test ! -e "$tmp/bad.gguf"
run 0 "$X" compress -m "$tiny/qwen2" --method 2:4,q8 --sparse-head -o "$tmp/qwen2-sh.gguf"
run 0 "$X" info "$tmp/qwen2-sh.gguf"
out_has "S24Q8"
run 0 "$X" generate -m "$tmp/qwen2-sh.gguf" -p "hello world" --max-tokens 4 --temperature 0
run 0 "$X" compress --help
out_has "--heads-prune"

cli_finish
