#!/usr/bin/env python3
"""zxing-cpp and zbarimg on the photos in ../shared/qr-photos, measured like the kiosk's
decode_photos bench: decode rate, wrong decodes, milliseconds per image (image loading and
process start excluded). Needs `pip install zxing-cpp pillow` and Debian's zbar-tools.
Run through scripts/measure-decoders.sh, which also runs the kiosk's own bench."""
import pathlib
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/qr-photos")
photos = []
for s in ("set-1", "set-2", "set-3"):
    for p in sorted((root / s).glob("*.png")) + sorted((root / s).glob("*.jpg")):
        t = p.with_suffix(".txt")
        if t.exists():
            photos.append((p, t.read_text(encoding="utf-8")))
if not photos:
    sys.exit(f"no photos under {root}")


def same(found, expected):
    """The expected texts were saved with LF line ends; codes may carry CRLF."""
    norm = lambda t: t.replace("\r\n", "\n").rstrip()
    return norm(found) == norm(expected)


def row(name, right, wrong, ms):
    ms = sorted(ms)
    med = ms[len(ms) // 2]
    p95 = ms[round((len(ms) - 1) * 0.95)]
    print(f"| {name} | {right}/{len(photos)} | {100 * right / len(photos):.1f}% | {wrong} | {med:.1f} | {p95:.1f} |")


print(f"{len(photos)} photos ({root}):")
print("| decoder | decoded | rate | wrong | median ms | p95 ms |")
print("|---|---|---|---|---|---|")

try:
    import zxingcpp
    from PIL import Image

    right = wrong = 0
    ms = []
    for path, expected in photos:
        img = Image.open(path).convert("L")
        img.load()
        t = time.perf_counter()
        found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
        ms.append(1000 * (time.perf_counter() - t))
        if found:
            if same(found[0].text, expected):
                right += 1
            else:
                wrong += 1
    row("zxing-cpp " + getattr(zxingcpp, "__version__", ""), right, wrong, ms)
except ImportError as e:
    print(f"| zxing-cpp | not installed ({e}) | | | | |")

try:
    # One process for all photos: start-up is paid once and spread thin. Per-image time is the
    # batch time divided by the number of photos (zbarimg reports no per-image times).
    files = [str(p) for p, _ in photos]
    t = time.perf_counter()
    out = subprocess.run(["zbarimg", "-q", "--xml", "-Sdisable", "-Sqrcode.enable", *files],
                         capture_output=True, text=True, encoding="utf-8")
    total = 1000 * (time.perf_counter() - t)
    texts = {}
    tree = ET.fromstring(out.stdout)
    ns = {"z": "http://zbar.sourceforge.net/2008/barcode"}
    for source in tree.findall("z:source", ns):
        data = source.find(".//z:data", ns)
        if data is not None:
            texts[source.get("href")] = data.text or ""
    right = sum(1 for p, e in photos if str(p) in texts and same(texts[str(p)], e))
    wrong = sum(1 for p, e in photos if str(p) in texts and not same(texts[str(p)], e))
    per = total / len(photos)
    row("zbarimg (batch average)", right, wrong, [per] * len(photos))
except FileNotFoundError:
    print("| zbarimg | not installed (apt-get install zbar-tools) | | | | |")
