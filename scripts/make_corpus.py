#!/usr/bin/env python3
"""Build tests/data/corpus.txt: a deterministic, varied, UTF-8 test corpus.

One text per line, '\\n' line endings, no '\\r' and no '\\n' inside a line,
no NUL bytes.  The output is fully determined by this script plus the
offline sources listed below (no randomness, no dates, no hash() of str,
which is salted per process; crc32 is used where a stable "pick" is needed).

Sections, in file order (see SECTION_* functions below):

  1. HAND    hand-written lines in this file: multilingual sentences (French,
             German, Spanish, Portuguese, Italian, Vietnamese, Polish, Czech,
             Turkish, Hungarian, Icelandic, Nordic, Romanian, Greek incl.
             polytonic, Russian/Ukrainian/Bulgarian/Serbian Cyrillic, Arabic
             incl. harakat and Arabic-Indic digits, Persian with ZWNJ, Urdu,
             Hebrew incl. niqqud, Hindi/Devanagari, Bengali, Tamil, Thai,
             Chinese simplified/traditional/classical, CJK Ext-B, Japanese
             kana+kanji incl. half-width kana, Korean incl. conjoining jamo,
             Georgian, Armenian, Amharic, Khmer, ...), combining characters,
             full-width forms, emoji (ZWJ sequences, flags, tag sequences,
             skin tones, keycaps, variation selectors), code (C, Python, JSON,
             shell, SQL, JS, regex), HTML/Markdown fragments, URLs and e-mail
             addresses, numbers/dates/currency, punctuation runs, whitespace
             and control-character oddities (written with escapes in this
             file), tokenizer edge cases (literal [CLS]/[SEP], >100-char
             words, final sigma, ligatures, ...).
  2. EMPTY   empty lines and whitespace-only lines are interleaved in the
             HAND section (>= 6 empty, several spaces/tabs-only lines).
  3. THANKS  names + e-mail addresses with non-ASCII names from
             /usr/share/doc/coreutils/THANKS.gz (Debian coreutils package).
  4. CHLOG   raw (indented) lines of Debian changelogs under /usr/share/doc
             for packages: gzip, zstd, procps, file, tar, coreutils, bash
             (changelog.Debian.gz), first lines of each.
  5. PYDOC   docstrings of Python standard-library modules and their public
             functions/classes via inspect.getdoc() (this machine:
             CPython 3.11.7); either first paragraph (whitespace collapsed)
             or the whole docstring with its indentation kept as space runs.
  6. TOPICS  Python language reference text from pydoc_data.topics (the text
             `pydoc` shows for keywords/topics): paragraphs, plus whole
             topics flattened into long lines.
  7. LICENSE paragraphs of /usr/share/common-licenses/{GPL-3, Apache-2.0,
             MPL-2.0, BSD, Artistic, LGPL-2.1, CC0-1.0, GFDL-1.3}, plus
             groups of consecutive paragraphs joined into long lines
             (several KB) and the full Apache-2.0 / GPL-3 texts as single
             lines.
  8. LONG    synthetic long lines built from HAND material (all multilingual
             lines joined, long CJK / Thai / emoji / code runs), plus four
             lines of 253..256 simple one-token words (255..258 ids) that
             sit on the max_seq_length=256 boundary.

Non-empty lines are de-duplicated (first occurrence kept).

Usage:  python3 scripts/make_corpus.py [--out tests/data/corpus.txt]
"""

import argparse
import gzip
import importlib
import inspect
import os
import sys
import warnings
import zlib

LICENSE_DIR = "/usr/share/common-licenses"
DOC_DIR = "/usr/share/doc"


def crc(s):
    return zlib.crc32(s.encode("utf-8"))


def clean(s):
    """Make s a legal corpus line: no \\n, \\r, NUL; valid str."""
    return s.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\x00", " ")


def collapse(s):
    return " ".join(s.split())


# --------------------------------------------------------------------------
# 1. HAND-WRITTEN LINES
# --------------------------------------------------------------------------

MULTILINGUAL = [
    # French
    "L'été dernier, nous sommes allés à Montréal pour le festival de jazz ; c'était inoubliable.",
    "Où est la bibliothèque ? Elle se trouve près de l'église Saint-Étienne, à côté du café.",
    "Les élèves doivent rendre leur dissertation avant vendredi, sinon ils perdront des points.",
    "Ça coûte 12,50 € — trop cher pour un croissant, même à Paris !",
    "« Je pense, donc je suis », écrivait Descartes en 1637 dans le Discours de la méthode.",
    "ŒUVRES COMPLÈTES DE VOLTAIRE, TOME XII : ÉDITION RÉVISÉE ET AUGMENTÉE",
    "Le cœur a ses raisons que la raison ne connaît point.",
    # German
    "Die Straße vor unserem Haus wird nächste Woche wegen Bauarbeiten gesperrt.",
    "Größenwahn und Übermut führen selten zu einem glücklichen Ende, sagte der Großvater.",
    "Donaudampfschifffahrtsgesellschaftskapitänsmütze ist ein beliebtes Beispiel für deutsche Komposita.",
    "Können Sie mir bitte sagen, wie ich zum Hauptbahnhof komme?",
    "ÄRGER ÜBER ÖFFNUNGSZEITEN: GESCHÄFTE SCHLIESSEN UM 18 UHR",
    "Victor jagt zwölf Boxkämpfer quer über den großen Sylter Deich.",
    # Spanish / Portuguese / Italian / Catalan
    "¿Dónde está el baño? ¡Necesito ayuda, por favor!",
    "El niño comió piña y jalapeños en la cumbre de la montaña.",
    "A função não está disponível na versão atual; tente novamente amanhã.",
    "Você já provou o pão de queijo de Minas Gerais? É uma delícia!",
    "Perché la città è così affollata? Perché è il giorno del mercato.",
    "Quel vituperabile xenofobo zelante assaggia il whisky ed esclama: alleluja!",
    "Jove xef, porti whisky amb quinze glaçons d'hidrogen, coi!",
    # Vietnamese
    "Tiếng Việt là ngôn ngữ chính thức của Việt Nam, được viết bằng chữ Quốc ngữ.",
    "Tôi muốn uống một ly cà phê sữa đá ở Hà Nội vào buổi sáng.",
    "Những người bạn cũ của tôi đã chuyển đến Thành phố Hồ Chí Minh.",
    "Ứng dụng này ưu tiên trải nghiệm người dùng; đừng ỷ lại vào những gì đã có.",
    # Polish / Czech / Slovak / Hungarian / Romanian / Turkish
    "Zażółć gęślą jaźń — to klasyczne polskie zdanie testowe zawierające wszystkie znaki diakrytyczne.",
    "Pójdźże, kiń tę chmurność w głąb flaszy!",
    "W Szczebrzeszynie chrząszcz brzmi w trzcinie i Szczebrzeszyn z tego słynie.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Kŕdeľ šťastných ďatľov učí pri ústí Váhu mĺkveho koňa obhrýzať kôru.",
    "Árvíztűrő tükörfúrógép",
    "Înțelepciunea și răbdarea sunt virtuți prețioase în școală.",
    "İstanbul'da yaşayan öğrenciler, ılık bir sonbahar akşamında Boğaz'ı seyretti.",
    # Nordic / Icelandic / Baltic
    "Þú ert ágætur, sagði hún við Ævar á Íslandi.",
    "Blåbærsyltetøy er godt på vafler, sier nordmenn.",
    "Flygande bäckasiner söka hwila på mjuka tuvor.",
    "Törkylempijävongahdus on suomen kielen pangrammi.",
    "Glāžšķūņa rūķīši dzērumā čiepj Baha koncertflīģeļu vākus.",
    "Įlinkdama fechtuotojo špaga sublykčiojusi pragręžė apvalų arbūzą.",
    # Greek
    "Η γλώσσα μου έδωσαν ελληνική· το σπίτι φτωχικό στις αμμουδιές του Ομήρου.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "ΟΔΟΣ ΑΘΗΝΑΣ 25, ΑΘΗΝΑ — Τηλέφωνο: +30 210 123 4567",
    "Ο Σωκράτης είπε: «Ἓν οἶδα ὅτι οὐδὲν οἶδα».",
    "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.",
    # Cyrillic
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "В чащах юга жил бы цитрус? Да, но фальшивый экземпляр!",
    "Москва — столица Российской Федерации, крупнейший город Европы по численности населения.",
    "Чуєш їх, доцю, га? Кумедна ж ти, прощайся без ґольфів!",
    "Жълтата дюля беше щастлива, че пухът, който цъфна, замръзна като гьон.",
    "Љубазни фењерџија чађавог лица хоће да ми покаже штос.",
    "ЁЛКА И ЕЛЬ: ЗАГЛАВНЫЕ БУКВЫ С ДИАКРИТИКОЙ",
    # Arabic / Persian / Urdu
    "اللغة العربية هي واحدة من أكثر اللغات انتشارا في العالم.",
    "مرحبا بكم في موقعنا، نتمنى لكم وقتا ممتعا.",
    "صِفْ خَلْقَ خَوْدٍ كَمِثْلِ الشَّمْسِ إِذْ بَزَغَتْ يَحْظَى الضَّجِيعُ بِهَا نَجْلَاءَ مِعْطَارِ",
    "رقم الهاتف: ٠١٢٣٤٥٦٧٨٩ والسعر ٤٥٫٥٠ ريال",
    "زبان فارسی یکی از زبان\u200cهای هندواروپایی است.",
    "اردو پاکستان کی قومی زبان ہے۔",
    # Hebrew
    "עברית היא שפה שמית המדוברת בישראל.",
    "דג סקרן שט בים מאוכזב ולפתע מצא חברה.",
    "בְּרֵאשִׁית בָּרָא אֱלֹהִים אֵת הַשָּׁמַיִם וְאֵת הָאָרֶץ",
    "הגרסה החדשה של Python 3.12 שוחררה ב-2 באוקטובר 2023.",
    # Indic
    "हिन्दी भारत की सबसे अधिक बोली जाने वाली भाषाओं में से एक है।",
    "मुझे चाय पीना बहुत पसंद है, विशेषकर बारिश के मौसम में।",
    "नमस्ते! आप कैसे हैं? मैं ठीक हूँ, धन्यवाद।",
    "कीमत: ₹१,२५०.०० मात्र",
    "संस्कृतम् जगतः एकतमा अतिप्राचीना समृद्धा शास्त्रीया च भाषा।",
    "আমি বাংলায় গান গাই।",
    "தமிழ் உலகின் பழமையான மொழிகளில் ஒன்றாகும்.",
    "ಕನ್ನಡ ಒಂದು ದ್ರಾವಿಡ ಭಾಷೆ.",
    "ਪੰਜਾਬੀ ਭਾਸ਼ਾ ਗੁਰਮੁਖੀ ਲਿਪੀ ਵਿੱਚ ਲਿਖੀ ਜਾਂਦੀ ਹੈ।",
    "සිංහල ශ්‍රී ලංකාවේ භාෂාවකි.",
    # Thai / Lao / Khmer / Burmese
    "ภาษาไทยเป็นภาษาราชการของประเทศไทย",
    "สวัสดีครับ วันนี้อากาศดีมาก เราไปเที่ยวทะเลกันไหม",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
    "ພາສາລາວເປັນພາສາທາງການຂອງລາວ",
    "ភាសាខ្មែរជាភាសាផ្លូវការរបស់ប្រទេសកម្ពុជា",
    "မြန်မာဘာသာစကား",
    # Chinese
    "中华人民共和国是一个位于东亚的国家，首都是北京。",
    "我今天早上喝了一杯咖啡，然后去图书馆看书。",
    "臺灣的夜市小吃非常有名，例如蚵仔煎和珍珠奶茶。",
    "机器学习是人工智能的一个分支，它使计算机能够从数据中学习。",
    "學而時習之，不亦說乎？有朋自遠方來，不亦樂乎？",
    "𠮷野家の牛丼と𩸽の塩焼き、𡈽の字は異体字です。",
    "敏捷的棕色狐狸跳过了懒狗。English mixed 中文 text 123。",
    # Japanese
    "日本語の文章には、ひらがな、カタカナ、漢字が混在しています。",
    "東京スカイツリーの高さは634メートルです。",
    "いろはにほへと\u3000ちりぬるを\u3000わかよたれそ\u3000つねならむ",
    "ｶﾀｶﾅの半角文字も時々使われます。ｱｲｳｴｵ ｶﾞｷﾞｸﾞ",
    "コンピューターのプログラミングは楽しいですね！",
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
    # Korean
    "한국어는 대한민국과 조선민주주의인민공화국의 공용어이다.",
    "안녕하세요! 만나서 반갑습니다.",
    "다람쥐 헌 쳇바퀴에 타고파",
    "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.",
    # Other scripts
    "ქართული ენა ქართველური ენების ოჯახს მიეკუთვნება.",
    "Հայերենը հնդեվրոպական լեզվաընտանիքի առանձին ճյուղ է։",
    "ሰላም ለዓለም፤ አማርኛ የኢትዮጵያ የሥራ ቋንቋ ነው።",
    "ᚠᚢᚦᚨᚱᚲ ᚷᚹᚺᚾᛁᛃ — Elder Futhark runes",
    "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ (Cherokee)",
    "Монгол хэл ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ",
    "བོད་ཡིག་ནི་བོད་པའི་ཡི་གེ་ཡིན།",
    "ⴰⵣⵓⵍ ⴼⵍⴰⵡⵏ (Tifinagh)",
    "ꦧꦱꦗꦮ (Javanese script)",
    # Math / symbols
    "∀x∈ℝ: x² ≥ 0 ⇒ √(x²) = |x|",
    "∑_{i=1}^{n} i = n(n+1)/2 and ∫₀^∞ e^{−x²} dx = √π/2",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 𝒜𝓁𝓅𝒽𝒶𝒷𝑒𝓉 𝐁𝐨𝐥𝐝 𝘐𝘵𝘢𝘭𝘪𝘤",
    "A ⊆ B ∧ B ⊆ C ⊢ A ⊆ C; ¬(p ∨ q) ≡ ¬p ∧ ¬q",
    "♠♣♥♦ ♩♪♫♬ ☀☁☂☃ ★☆ ✓✗ ←↑→↓ ⌘⌥⇧⌃",
    # Combining characters and normalization forms
    "Decomposed: e\u0301 a\u0300 o\u0302 n\u0303 u\u0308 c\u0327 A\u030a vs precomposed: é à ô ñ ü ç Å",
    "Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d\u0308\u0307l\u036e\u0312\u036bg\u030c\u0317\u035a\u031ao\u0319\u0314\u036e\u0307\u0350\u0307 text with stacked combining marks",
    "Dakuten: か\u3099 き\u3099 く\u3099 ハ\u309a vs が ぎ ぐ パ",
    "Conjoining jamo: \u1112\u1161\u11ab\u1100\u1173\u11af vs 한글, compatibility jamo ㅎㅏㄴ",
    "Ligatures: ﬁancée ﬂuﬀy oﬃce ﬄ — digraphs: Ǆ ǅ ǆ Ǉ ǈ ǉ — IJ ĳ ŉ",
    "Turkish I: İstanbul ıstakoz — German ß and ẞ — Greek final sigma: ΣΊΣΥΦΟΣ ΟΔΥΣΣΕΥΣ σοφός",
    # Full-width / enclosed
    "ＦＵＬＬＷＩＤＴＨ\u3000ＴＥＸＴ\u3000１２３４５！？",
    "（株）ＡＢＣ商事　〒１００－０００１　東京都千代田区",
    "Ⓐⓑⓒ ① ② ③ ⑴ ⑵ ⒜ ⒝ ㈱ ㍿ ㎏ ㎞ ℡ №",
]

EMOJI = [
    "I love pizza 🍕 and tacos 🌮!!",
    "Family: 👨\u200d👩\u200d👧\u200d👦 couple: 👩\u200d❤\ufe0f\u200d👨 technologist: 👩🏽\u200d💻",
    "Flags: 🇫🇷 🇩🇪 🇯🇵 🇺🇸 🇧🇷 🇺🇦 🇮🇳 🇰🇷 and Scotland 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "Thumbs up in all skin tones: 👍🏻👍🏼👍🏽👍🏾👍🏿 and waving 👋🏿",
    "Heart with and without variation selector: ❤\ufe0f vs ❤ vs ❤\ufe0e",
    "Keycaps: 1\ufe0f\u20e3 2\ufe0f\u20e3 #\ufe0f\u20e3 *\ufe0f\u20e3",
    "🏳\ufe0f\u200d🌈 🏳\ufe0f\u200d⚧\ufe0f 🐻\u200d❄\ufe0f 🧑\u200d🤝\u200d🧑",
    "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘",
    "Meeting at 3pm ☕️ — don't be late ⏰ (bring the slides 📊)",
    "©️ ®️ ™️ ✔️ ✖️ ⚠️ ♻️ ⚡ 🔥 💯",
    "Great job team!!! 🎉🎉🎉 #shipped #v1 @everyone",
    "The weather today: 🌧️ → 🌤️ → ☀️, high of 24°C 🌡️",
    "🚀 Deploying to production... ✅ done in 42s 🐳",
    "Emoji modifiers alone: 🏻 🏼 🏽 🏾 🏿 and lone ZWJ \u200d between words",
    "Old-school emoticons :-) ;-) :-( :P XD <3 </3 ^_^ o_O",
]

CODE = [
    '#include <stdio.h>',
    'int main(int argc, char **argv) { printf("Hello, %s!\\n", argc > 1 ? argv[1] : "world"); return 0; }',
    "for (size_t i = 0; i < n; ++i) {\tsum += a[i] * b[i];\t}",
    "static inline float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678f)); }",
    "typedef struct { uint32_t *ids; size_t len; } token_seq_t;",
    "if (ptr == NULL && errno != 0) goto fail; /* cleanup on error */",
    "#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "    memcpy(dst + off, src, n * sizeof(*src)); // copy n elements",
    "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "import numpy as np; x = np.linspace(0, 1, 100); print(x.mean(), x.std())",
    "    return {k: v for k, v in sorted(d.items(), key=lambda kv: -kv[1])}",
    "class Foo(Base):\tpass  # TODO(alice): remove after migration",
    'print(f"{name!r:>10} = {value:.3e}")',
    "@dataclass(frozen=True)",
    "with open('data.bin', 'rb') as fh: header = fh.read(16)",
    'async def fetch(url: str) -> bytes: ...',
    '{"name": "xfmr", "version": "0.1.0", "tags": ["c", "ml"], "nested": {"a": 1, "b": [true, false, null]}}',
    '[{"id":1,"score":0.98},{"id":2,"score":-1.5e-7},{"id":3,"text":"caf\\u00e9 \\"quoted\\""}]',
    '{"hidden_size": 384, "num_attention_heads": 12, "num_hidden_layers": 6, "vocab_size": 30522}',
    'for f in *.txt; do wc -l "$f"; done | sort -n | tail -5',
    "curl -sSL https://example.com/install.sh | bash -s -- --prefix=$HOME/.local",
    "find . -name '*.o' -print0 | xargs -0 rm -f && make -j$(nproc) CFLAGS='-O2 -Wall'",
    'export PATH="/usr/local/bin:$PATH"; echo $? >> /tmp/log 2>&1',
    "git log --oneline --graph --decorate | head -n 20",
    "$ sudo apt-get install -y build-essential cmake && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release",
    "SELECT id, name FROM users WHERE email LIKE '%@example.org' ORDER BY created_at DESC LIMIT 10;",
    r"^(?P<user>[\w.+-]+)@(?P<host>[\w-]+\.)+[a-z]{2,}$",
    "const add = (a, b) => a + b; console.log(`sum=${add(2, 3)}`);",
    "%.o: %.c ; $(CC) $(CFLAGS) -c $< -o $@",
    "mov eax, 1\txor ebx, ebx\tint 0x80",
    "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); println!(\"{:?}\", v); }",
    "<?php echo htmlspecialchars($_GET['q'] ?? '', ENT_QUOTES, 'UTF-8'); ?>",
]

HTML = [
    '<p class="intro">Hello, <b>world</b>!</p>',
    '<a href="https://example.com/path?query=1&amp;lang=en#section">Click here</a>',
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test &mdash; Page</title></head><body></body></html>',
    '<img src="cat.png" alt="A cat &lt;3" width="640" height="480"/>',
    '<script>if (a < b && c > d) { alert("x"); }</script>',
    "&nbsp;&amp;&lt;&gt;&quot;&#39;&#x1F600;&copy;&eacute;",
    "<table><tr><th>Name</th><th>Qty</th></tr><tr><td>Äpfel</td><td>3</td></tr></table>",
    "<!-- comment: do not remove -->",
    "## Installation\t`pip install xfmr` — see [docs](https://docs.example.org/xfmr/).",
    "> **Note:** _emphasis_ and ~~strikethrough~~ in Markdown; `inline code` too.",
    "<div style=\"font-family: 'Noto Sans', sans-serif; color:#ff0000\">Red text</div>",
]

URLS = [
    "https://www.example.com/search?q=transformer+inference&page=2#results",
    "Contact us at support@example.com or sales+eu@sub.example.co.uk for more information.",
    "ftp://ftp.debian.org/debian/pool/main/g/gzip/gzip_1.12-1_amd64.deb",
    "http://[2001:db8::1]:8080/api/v1/items/42?fields=id,name",
    "mailto:jöhn.döe@bücher.de?subject=Grüße",
    "https://ja.wikipedia.org/wiki/日本語 and https://ja.wikipedia.org/wiki/%E6%97%A5%E6%9C%AC%E8%AA%9E",
    "Visit xn--bcher-kva.example for the punycode version of bücher.example",
    "file:///home/user/Documents/report%20final.pdf",
    "user@localhost, root@127.0.0.1, first.last@[192.168.0.1], \"quoted local\"@example.net",
    "git@github.com:owner/repo.git and ssh://git@host:2222/path/repo.git",
    "Follow @username and use #hashtag; ticker $AAPL rose 3%.",
    "https://user:p%40ss@example.org:8443/a/b/../c/./d;params?x=1&y=2&x=3",
    "www.example.com/index.html?utm_source=newsletter&utm_medium=email",
    "data:text/plain;base64,SGVsbG8sIFdvcmxkIQ==",
]

NUMBERS = [
    "The meeting is on 2024-03-15T14:30:00Z (UTC); please confirm by 03/10/2024.",
    "Price: $1,234.56 — €1.234,56 — £999.99 — ¥120,000 — ₹75,000 — ₩50,000 — ₿0.0042",
    "π ≈ 3.14159265358979323846, e ≈ 2.718281828459045, φ = 1.6180339887…",
    "Population: 8,045,311,447 (est. 2023); growth rate 0.88% per year.",
    "Temperature dropped from +25.3 °C to \u22124.7 °C overnight (\u221222 °F).",
    "Scientific: 6.02214076e23, 1.602176634E-19, 0x7FFFFFFF, 0b1011, 0o755, 1_000_000",
    "Phone: +1 (555) 123-4567 ext. 89; fax +44 20 7946 0958",
    "ISBN 978-3-16-148410-0; DOI 10.1000/182; ISSN 0317-8471",
    "Version 1.2.3-rc.1+build.456 released on Jan 5th, 2021 at 9:45 a.m.",
    "Fractions and sub/superscripts: 1/2 ½ ¼ ¾ ⅓ ⅔ 1⁄8 10² 10⁻³ H₂O CO₂",
    "Roman numerals: Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ ⅰⅱⅲ MCMXCIV",
    "Lottery numbers: 04 17 23 38 42 49",
    "1234567890123456789012345678901234567890",
    "2024年3月15日（金）午後3時30分、気温は１５℃でした。",
    "Marathon: 42.195 km (26.2 mi); apartment of 100 m² for 1\u202f500\u202f000 Kč",
    "Le prix est de 1\u00a0234,56\u00a0€ TTC, soit 20\u00a0% de plus.",
    "Coordinates: 48°51′29″N 2°17′40″E; elevation 330 m",
    "IPv4 192.168.1.254/24, IPv6 fe80::1ff:fe23:4567:890a%eth0, MAC 00:1A:2B:3C:4D:5E",
    "UUID 123e4567-e89b-12d3-a456-426614174000, SHA-256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "Q3 revenue: USD 12.5M (+7.2% YoY), EBITDA margin 18.4%, EPS $0.42",
    "Times: 00:00, 12:00 PM, 23:59:59.999, 1970-01-01T00:00:00+00:00, epoch 1700000000",
]

PUNCT = [
    "!!!???...,,,;;;:::",
    "Dashes: - ‐ ‑ ‒ – — ― ⸺ ⸻ and minus −",
    "“Smart quotes” ‘single’ „German“ «French» 「Japanese」 『double』 《Chinese》 ‹single guillemets›",
    "...and then... nothing… at all.....",
    "***** ~~~~~ ===== +++++ ##### @@@@@ $$$$$ %%%%% ^^^^^ &&&&& _____ |||||",
    "()[]{}<>⟨⟩⟦⟧«»‹›【】〔〕",
    "!@#$%^&*()_+-=[]{}|;':\",./<>?`~\\",
    "¡¿‽⁇⁈⁉※†‡•‣․‥…‰‱′″‴§¶",
    "-----BEGIN PGP SIGNATURE-----",
    "=^..^= (•_•) ( •_•)>⌐■-■ (⌐■_■) ¯\\_(ツ)_/¯ ಠ_ಠ (╯°□°)╯︵ ┻━┻",
    "。、！？「」・ー～",
    "،؛؟ ۔ ।॥",
    "................................................................................................................",
    "?!?!?!?!?!?!?!?!?!?!",
]

# Written with escapes on purpose so that the bytes are visible in this file.
WHITESPACE_CONTROL = [
    "multiple     spaces    between     words",
    "tabs\tbetween\t\twords\t\t\tand\tmore",
    "non\u00a0breaking\u00a0space and narrow\u202fno-break\u202fspace",
    "ideographic\u3000space\u3000between\u3000words",
    "zero\u200bwidth\u200bspace\u200band\u200cnon\u200djoiner",
    "soft\u00adhyphen in hy\u00adphen\u00ad\u00adation",
    "Der Fußball\u00adverein hat 3:1 gewonnen.",
    "control\x01char and delete\x7fchar",
    "bell\x07 backspace\x08 escape\x1b[31mred\x1b[0m",
    "vertical\x0btab and form\x0cfeed",
    "next line\u0085char and line\u2028separator and paragraph\u2029separator",
    "BOM\ufeffin the middle",
    "\ufeffStarting with a byte order mark",
    "left-to-right\u200emark and right-to-left\u200fmark and \u202aembedding\u202c and \u2066isolate\u2069",
    "   leading spaces",
    "trailing spaces   ",
    "\t\tleading tabs",
    "replacement char \ufffd and private use \ue000\uf8ff",
    "en\u2002space em\u2003space thin\u2009space hair\u200aspace figure\u2007space punct\u2008space",
    "ogham\u1680space mongolian\u180evowel separator",
    "mixed:  \t \u00a0 \u3000 \u2003 between",
    "C1 controls: \x80\x81\x9f and DEL\x7f\x7f\x7f",
    "\x01\x02\x03\x04\x05\x06 only controls then text",
    "word\u2060joiner and\u2063invisible\u2064plus",
    "interlinear\ufff9annotation\ufffbsigns\ufffa",
]

TOKENIZER_EDGE = [
    "[CLS] this line contains literal special tokens [SEP] [MASK] [PAD] [UNK] and lowercase [cls] [mask]",
    "Special tokens glued:[CLS][SEP]text[MASK]more[PAD]",
    "Pneumonoultramicroscopicsilicovolcanoconiosis and supercalifragilisticexpialidocious are long words.",
    "Exactly 100 chars: " + "abcdefghij" * 10,
    "Exactly 101 chars: " + "abcdefghij" * 10 + "k",
    "Long token: " + "x" * 150 + " end",
    "don't won't it's rock'n'roll O'Brien y'all",
    "e-mail co-operate state-of-the-art well-known",
    "snake_case camelCase PascalCase kebab-case SCREAMING_SNAKE_CASE __dunder__",
    "a.b.c.d 1.2.3.4 ... .hidden file.tar.gz",
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ",
    "ĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĲĳĴĵĶķĸĹĺĻļĽľĿŀŁł",
    "Ḁḁ Ḃḃ Ṩṩ Ẁẁ Ỳỳ Ỹỹ Ǻǻ Ǽǽ Ǿǿ",
    "CJK compatibility ideographs 豈 更 車 and Ext-A 㐀㐁 and radicals ⺀⻳ ⼀⼁",
    "Hiragana ぁあぃいぅう and katakana ァアィイゥウ and small ㇰㇱ",
    "UPPERCASE WORDS SHOULD BE LOWERCASED BY AN UNCASED MODEL",
    "MiXeD CaSe TeXt WiTh NuMbErS 123ABC abc123 A1B2C3",
    "unaffable unhappiness reconsideration antidisestablishmentarianism",
    "the the the the the the the the the the the the the the the the the the the the",
    "a",
    "I",
    ".",
    "😀",
    "中",
    "[UNK]",
]

# A few plain English sentences of the kind embedding models see.
ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street corner.",
    "How do I reset my password if I no longer have access to my email?",
    "The weather forecast predicts heavy rain for the rest of the week.",
    "Transformers use self-attention to weigh the importance of different tokens in a sequence.",
    "She sells seashells by the seashore.",
    "What is the capital of Australia? Canberra, not Sydney.",
    "Please find attached the quarterly report for your review.",
    "The restaurant was closed, so we ordered pizza instead.",
    "Sentence embeddings map text to dense vectors that capture semantic meaning.",
    "It was the best of times, it was the worst of times.",
    "To be, or not to be, that is the question.",
    "All happy families are alike; each unhappy family is unhappy in its own way.",
    "Call me Ishmael.",
    "In the beginning God created the heaven and the earth.",
    "My flight was delayed by three hours because of a mechanical problem.",
    "Can you recommend a good book about the history of mathematics?",
    "The children built a sandcastle on the beach before the tide came in.",
    "Researchers found that regular exercise improves both memory and mood.",
    "He said, \"I'll be there at 5 o'clock,\" but he never showed up.",
]

EMPTY_MARK = object()
WS_ONLY = ["   ", "\t", " \t \t ", "\t\t\t\t", " ", "\u00a0\u00a0", "\u3000", "                                        "]


def section_hand():
    out = []
    groups = [MULTILINGUAL, EMOJI, CODE, HTML, URLS, NUMBERS, PUNCT,
              WHITESPACE_CONTROL, TOKENIZER_EDGE, ENGLISH]
    for gi, g in enumerate(groups):
        out.extend(g)
        # empty line + a whitespace-only line between groups
        out.append("")
        out.append(WS_ONLY[gi % len(WS_ONLY)])
    return out


# --------------------------------------------------------------------------
# 3/4. /usr/share/doc material
# --------------------------------------------------------------------------

def read_gz_text(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def section_thanks(limit=60):
    p = os.path.join(DOC_DIR, "coreutils", "THANKS.gz")
    if not os.path.exists(p):
        print("warning: %s missing" % p, file=sys.stderr)
        return []
    lines = read_gz_text(p).split("\n")
    out = [l for l in lines if "@" in l and any(ord(c) > 127 for c in l)]
    # plus some ASCII ones to keep the column layout with space runs
    out += [l for l in lines if "@" in l][:10]
    return [clean(l.rstrip()) for l in out[:limit]]


CHANGELOG_PKGS = ["gzip", "zstd", "procps", "file", "tar", "coreutils", "bash"]


def section_changelogs(per_pkg=30):
    out = []
    for pkg in CHANGELOG_PKGS:
        p = os.path.join(DOC_DIR, pkg, "changelog.Debian.gz")
        if not os.path.exists(p):
            print("warning: %s missing" % p, file=sys.stderr)
            continue
        lines = [l.rstrip() for l in read_gz_text(p).split("\n")]
        lines = [clean(l) for l in lines if l.strip()]
        out.extend(lines[:per_pkg])
        # one whole entry (up to the first trailer line) joined as one line
        entry = []
        for l in lines:
            entry.append(l.strip())
            if l.startswith(" -- "):
                break
        out.append(" ".join(entry))
    return out


# --------------------------------------------------------------------------
# 5. PYDOC (stdlib docstrings)
# --------------------------------------------------------------------------

PYDOC_MODULES = [
    "json", "os", "os.path", "collections", "itertools", "functools", "re", "string",
    "textwrap", "datetime", "heapq", "bisect", "shutil", "pathlib", "argparse",
    "subprocess", "random", "statistics", "fractions", "decimal", "math", "hashlib",
    "base64", "csv", "sqlite3", "unicodedata", "typing", "enum", "dataclasses",
    "contextlib", "operator", "zlib", "gzip", "tarfile", "zipfile", "urllib.parse",
    "http.client", "email.message", "html", "xml.etree.ElementTree", "logging",
    "threading", "queue", "socket", "struct", "copy", "pprint", "difflib",
    "calendar", "time", "uuid", "secrets", "io", "codecs", "locale", "glob",
    "fnmatch", "tempfile", "inspect", "ast", "tokenize", "pickle", "shlex",
    "array", "weakref", "abc", "numbers", "cmath", "binascii", "select",
    "signal", "mmap", "traceback", "warnings", "unittest", "doctest", "timeit",
]


def paragraphs(text):
    paras, cur = [], []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line)
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    return paras


def section_pydoc(limit=520):
    out = []
    warnings.simplefilter("ignore")
    for modname in PYDOC_MODULES:
        try:
            mod = importlib.import_module(modname)
        except Exception as e:  # pragma: no cover
            print("warning: cannot import %s: %s" % (modname, e), file=sys.stderr)
            continue
        doc = inspect.getdoc(mod)
        if doc:
            # module docstring: whole thing as one line (often long)
            out.append(collapse(doc))
        ns = vars(mod)
        for name in sorted(ns):
            if name.startswith("_"):
                continue
            obj = ns[name]
            if not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            if getattr(obj, "__module__", None) not in (modname, mod.__name__, "_" + modname):
                continue
            d = inspect.getdoc(obj)
            if not d or len(d) < 20:
                continue
            k = crc(modname + "." + name) % 4
            if k == 0:
                # whole docstring, newlines -> ' ', indentation kept (space runs)
                out.append(clean(d.replace("\n", " ")))
            else:
                out.append(collapse(" ".join(paragraphs(d)[0])))
    # keep a deterministic, spread-out subset if there are too many
    if len(out) > limit:
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return out


# --------------------------------------------------------------------------
# 6. pydoc_data.topics
# --------------------------------------------------------------------------

TOPIC_KEYS_PARAS = ["assignment", "calls", "class", "comparisons", "exceptions",
                    "execmodel", "for", "function", "import", "naming", "raise",
                    "strings", "try", "typesmapping", "with", "identifiers"]
TOPIC_KEYS_LONG = ["assignment", "attribute-access", "comparisons", "customization",
                   "execmodel", "import", "typesmapping", "strings", "try", "calls",
                   "numeric-types", "sequence-types"]


def cut(s, n):
    """Cut s to at most n chars at a space boundary."""
    if len(s) <= n:
        return s
    j = s.rfind(" ", 0, n)
    return s[: j if j > 0 else n]


def section_topics(para_limit=160):
    try:
        from pydoc_data.topics import topics
    except Exception as e:  # pragma: no cover
        print("warning: no pydoc_data.topics: %s" % e, file=sys.stderr)
        return []
    out = []
    for key in TOPIC_KEYS_PARAS:
        for p in paragraphs(topics[key]):
            text = " ".join(x.strip() for x in p)
            if len(text) >= 40:
                out.append(clean(text))
    if len(out) > para_limit:
        step = len(out) / para_limit
        out = [out[int(i * step)] for i in range(para_limit)]
    for i, key in enumerate(TOPIC_KEYS_LONG):
        out.append(clean(cut(collapse(topics[key]), 3000 + 700 * i)))
    return out


# --------------------------------------------------------------------------
# 7. Licenses
# --------------------------------------------------------------------------

LICENSES = ["GPL-3", "Apache-2.0", "MPL-2.0", "BSD", "Artistic", "LGPL-2.1", "CC0-1.0", "GFDL-1.3"]


def section_licenses(para_limit=260):
    out, longs = [], []
    for name in LICENSES:
        p = os.path.join(LICENSE_DIR, name)
        if not os.path.exists(p):
            print("warning: %s missing" % p, file=sys.stderr)
            continue
        with open(p, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
        paras = [" ".join(x.strip() for x in pp) for pp in paragraphs(text)]
        out.extend(clean(x) for x in paras if len(x) >= 3)
        # groups of consecutive paragraphs joined until >= 2500 chars
        group = []
        for x in paras:
            group.append(x)
            if sum(len(g) for g in group) >= 2500:
                longs.append(clean(" ".join(group)))
                group = []
        if name == "Apache-2.0":
            # whole license as one line, keeping the original space runs
            longs.append(clean(text.replace("\n", " ")))
        if name == "GPL-3":
            longs.append(clean(collapse(text)))
    if len(out) > para_limit:
        step = len(out) / para_limit
        out = [out[int(i * step)] for i in range(para_limit)]
    # cap the number of multi-KB groups (keep spread); the two whole texts stay
    whole = [l for l in longs if len(l) > 10000]
    grouped = [l for l in longs if len(l) <= 10000]
    if len(grouped) > 30:
        step = len(grouped) / 30
        grouped = [grouped[int(i * step)] for i in range(30)]
    return out + grouped + whole


# --------------------------------------------------------------------------
# 8. Synthetic long lines from hand-written material
# --------------------------------------------------------------------------

def section_long():
    out = []
    out.append(" ".join(MULTILINGUAL))
    out.append(" ".join(MULTILINGUAL[::-1]) + " " + " ".join(ENGLISH))
    cjk = [l for l in MULTILINGUAL if any(0x3040 <= ord(c) <= 0x9FFF or 0xAC00 <= ord(c) <= 0xD7AF for c in l)]
    out.append("".join(cjk) * 3)
    thai = [l for l in MULTILINGUAL if any(0x0E00 <= ord(c) <= 0x0E7F for c in l)]
    out.append(" ".join(thai) * 8)
    out.append(" ".join(EMOJI) * 3)
    out.append(" ".join(CODE))
    out.append(" ".join(URLS + NUMBERS + PUNCT))
    out.append("\t".join(WHITESPACE_CONTROL + TOKENIZER_EDGE))
    arab = [l for l in MULTILINGUAL if any(0x0590 <= ord(c) <= 0x06FF for c in l)]
    out.append(" ".join(arab) * 4)
    cyr_greek = [l for l in MULTILINGUAL if any(0x0370 <= ord(c) <= 0x04FF for c in l)]
    out.append(" ".join(cyr_greek) * 3)
    # lines of exactly 253..256 single-wordpiece words (=> 255..258 ids with
    # [CLS]/[SEP]) to probe the max_seq_length=256 truncation boundary
    words = "the cat sat on a mat and we saw it from my old red car".split()
    for k in (253, 254, 255, 256):
        out.append(" ".join(words[i % len(words)] for i in range(k)))
    return [clean(x) for x in out]


# --------------------------------------------------------------------------

def build():
    parts = [
        ("HAND", section_hand()),
        ("THANKS", section_thanks()),
        ("CHLOG", section_changelogs()),
        ("PYDOC", section_pydoc()),
        ("TOPICS", section_topics()),
        ("LICENSE", section_licenses()),
        ("LONG", section_long()),
    ]
    seen = set()
    lines, counts = [], []
    for name, sec in parts:
        n0 = len(lines)
        for l in sec:
            l = clean(l)
            if l.strip():
                if l in seen:
                    continue
                seen.add(l)
            lines.append(l)
        counts.append((name, len(lines) - n0))
    return lines, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "tests", "data", "corpus.txt"))
    args = ap.parse_args()
    if sys.version_info[:2] != (3, 11):
        print("note: corpus was generated with CPython 3.11; PYDOC/TOPICS sections "
              "depend on the Python version", file=sys.stderr)
    lines, counts = build()
    for l in lines:
        assert "\n" not in l and "\r" not in l and "\x00" not in l
    data = ("\n".join(lines) + "\n").encode("utf-8")
    out = os.path.normpath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(data)
    print("wrote %s: %d lines, %d bytes" % (out, len(lines), len(data)))
    for name, c in counts:
        print("  %-8s %5d lines" % (name, c))
    print("  empty lines: %d, whitespace-only: %d, longest: %d chars"
          % (sum(1 for l in lines if l == ""),
             sum(1 for l in lines if l and not l.strip()),
             max(len(l) for l in lines)))


if __name__ == "__main__":
    main()
