"""Before/after contact sheets of the simulation figures restyled for issue 17 (item 6).

    python docs/figures/changes/contact_sheet.py BEFORE_DIR docs/figures docs/figures/changes

Each sheet stacks a few figures, the old PNG on the left and the new one on the right, scaled
to a common height and quantized to 256 colours to keep the sheets small.
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

before_dir, after_dir, out_dir = (Path(a) for a in sys.argv[1:4])
names = sorted(p.name for p in before_dir.glob("*.png") if (after_dir / p.name).is_file()
               and not p.name.startswith(("neural_", "validation_", "reward_ladder", "reward_model_neural")))
PER_SHEET, WIDTH = 4, 620  # pairs per sheet, pixels per side


def fit(img: Image.Image) -> Image.Image:
    img = img.convert("RGB")
    return img.resize((WIDTH, max(1, round(img.height * WIDTH / img.width))), Image.LANCZOS)


for k in range(0, len(names), PER_SHEET):
    rows = []
    for name in names[k:k + PER_SHEET]:
        old, new = fit(Image.open(before_dir / name)), fit(Image.open(after_dir / name))
        h = max(old.height, new.height) + 22
        row = Image.new("RGB", (2 * WIDTH + 10, h), "white")
        ImageDraw.Draw(row).text((4, 4), f"{name}: before (left), after (right)", fill="black")
        row.paste(old, (0, 22))
        row.paste(new, (WIDTH + 10, 22))
        rows.append(row)
    sheet = Image.new("RGB", (2 * WIDTH + 10, sum(r.height + 12 for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 12
    sheet.quantize(256, method=Image.Quantize.MAXCOVERAGE).save(out_dir / f"before_after_{k // PER_SHEET + 1}.png", optimize=True)
    print(out_dir / f"before_after_{k // PER_SHEET + 1}.png", names[k:k + PER_SHEET])
