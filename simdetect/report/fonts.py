"""Fonts for plots: artist names and labels are often Chinese."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

CJK_MARKERS = ("NotoSansCJK", "NotoSerifCJK", "SourceHanSans", "wqy", "WenQuanYi")


def configure_matplotlib_fonts() -> str | None:
    """Register an installed CJK font with matplotlib and make it the fallback.

    matplotlib's font cache is built once and does not notice fonts installed later
    (for instance by `apt-get install fonts-noto-cjk`), so the files are added
    explicitly. Returns the CJK family used, or None (Chinese then renders as boxes).
    """
    import matplotlib
    from matplotlib import font_manager

    for path in font_manager.findSystemFonts():
        if any(marker in path for marker in CJK_MARKERS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError) as exc:
                log.debug("cannot load font %s: %s", path, exc)
    names = sorted(
        {
            f.name
            for f in font_manager.fontManager.ttflist
            if "CJK" in f.name or "WenQuanYi" in f.name
        }
    )
    preferred = [n for n in names if n.endswith(" SC")] or names
    family = preferred[0] if preferred else None
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *([family] if family else [])]
    return family
