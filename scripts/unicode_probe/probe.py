import sys
from tokenizers import normalizers, pre_tokenizers
clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
low = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
pt = pre_tokenizers.BertPreTokenizer()
def h(s): return ".".join("%X" % ord(x) for x in s) or "-"
out = sys.stdout
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF: continue
    c = chr(cp)
    out.write("%X %s %s %s %d\n" % (cp, h(clean.normalize_str(c)), h(strip.normalize_str(c)), h(low.normalize_str(c)), len(pt.pre_tokenize_str("a" + c + "a"))))
