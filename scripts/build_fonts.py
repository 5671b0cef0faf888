"""Build the reader's web fonts (src/marsad/web/static/fonts/*.woff2) from Debian's fonts-noto-core.

    apt-get install fonts-noto-core && pip install fonttools brotli
    python scripts/build_fonts.py

Subsets Noto Naskh Arabic (body text) and Noto Kufi Arabic (headlines, interface) to
Arabic, Arabic presentation forms, Basic Latin and common punctuation, as WOFF2. The
fonts are under the SIL Open Font License 1.1 (static/fonts/OFL.txt).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

SOURCE = Path("/usr/share/fonts/truetype/noto")
OUT = Path(__file__).resolve().parents[1] / "src" / "marsad" / "web" / "static" / "fonts"
FONTS = ["NotoNaskhArabic-Regular", "NotoNaskhArabic-Bold", "NotoKufiArabic-Regular", "NotoKufiArabic-Bold"]
UNICODES = ",".join([
    "U+0020-007E",  # Basic Latin
    "U+00A0-00FF",  # Latin-1 punctuation and signs
    "U+0600-06FF",  # Arabic
    "U+0750-077F",  # Arabic Supplement
    "U+08A0-08FF",  # Arabic Extended-A
    "U+FB50-FDFF",  # Arabic Presentation Forms-A
    "U+FE70-FEFF",  # Arabic Presentation Forms-B
    "U+200C-200F", "U+2010-2027", "U+2030-203A", "U+25CC",  # joiners, marks, dashes, quotes, ellipsis
])


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in FONTS:
        src = SOURCE / f"{name}.ttf"
        if not src.exists():
            print(f"missing {src}: apt-get install fonts-noto-core", file=sys.stderr)
            return 1
        options = subset.Options()
        options.flavor = "woff2"
        options.layout_features = ["*"]  # keep every OpenType feature: Arabic shaping needs init/medi/fina/rlig
        options.name_IDs = ["*"]
        options.notdef_outline = True
        font = subset.load_font(str(src), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=subset.parse_unicodes(UNICODES))
        subsetter.subset(font)
        target = OUT / f"{name}.woff2"
        subset.save_font(font, str(target), options)
        print(f"{target.name}: {target.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
