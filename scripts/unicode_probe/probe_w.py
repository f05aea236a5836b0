import sys
from tokenizers import pre_tokenizers
pt = pre_tokenizers.Whitespace()
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF: continue
    r = pt.pre_tokenize_str("a" + chr(cp) + "!")
    sys.stdout.write("%X %s\n" % (cp, "|".join("%d-%d" % o for _, o in r)))
