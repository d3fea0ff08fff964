"""How readable a colour is and how far apart two colours look, written out from the
published formulas (WCAG 2 contrast ratio; CIELAB under D65 and the CIEDE2000 difference),
so the theme's sender colours can be checked by a test without a colour library.
"""

from __future__ import annotations

import math


def rgb(hex_colour: str) -> tuple[float, float, float]:
    """'#rrggbb' as three channels from 0 to 1."""
    value = hex_colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"not a #rrggbb colour: {hex_colour!r}")
    return tuple(int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def normal_hex(spelling: str) -> str | None:
    """A colour as Tk reads '#rgb', '#rrggbb', '#rrrgggbbb' or '#rrrrggggbbbb', as lowercase
    '#rrggbb' (the top 8 bits of each channel); None for anything else, such as a name."""
    digits = spelling.strip().lower()[1:] if spelling.strip().startswith("#") else ""
    if len(digits) not in (3, 6, 9, 12) or any(c not in "0123456789abcdef" for c in digits):
        return None
    size = len(digits) // 3
    channels = (int(digits[i * size : (i + 1) * size], 16) for i in range(3))
    # Tk widens a short channel by repeating it (#abc is #aabbcc) and narrows a long one by its top bits.
    return "#" + "".join(f"{(c * 0x11 if size == 1 else c >> (4 * (size - 2))):02x}" for c in channels)


def _linear(channel: float) -> float:
    """An sRGB channel without its gamma."""
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance, 0 (black) to 1 (white)."""
    r, g, b = (_linear(c) for c in rgb(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio, 1 to 21; body text wants at least 4.5."""
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def lab(hex_colour: str) -> tuple[float, float, float]:
    """CIELAB (L*, a*, b*) of an sRGB colour, D65 white."""
    r, g, b = (_linear(c) for c in rgb(hex_colour))
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e_2000(first: str, second: str) -> float:
    """CIEDE2000 colour difference of two '#rrggbb' colours: about 1 is just noticeable,
    20 and more clearly different."""
    return delta_e_2000_lab(lab(first), lab(second))


def delta_e_2000_lab(first: tuple[float, float, float], second: tuple[float, float, float]) -> float:
    """CIEDE2000 difference of two CIELAB colours (Sharma, Wu and Dalal's formulation)."""
    l1, a1, b1 = first
    l2, a2, b2 = second
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0

    dl, dc = l2 - l1, c2p - c1p
    dh = 0.0
    if c1p * c2p:
        dh = h2p - h1p
        if dh > 180:
            dh -= 360
        elif dh < -180:
            dh += 360
    dhp = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))

    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if not c1p * c2p:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    else:
        h_mean = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_mean - 30))
        + 0.24 * math.cos(math.radians(2 * h_mean))
        + 0.32 * math.cos(math.radians(3 * h_mean + 6))
        - 0.20 * math.cos(math.radians(4 * h_mean - 63))
    )
    sl = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    sc = 1 + 0.045 * cp_mean
    sh = 1 + 0.015 * cp_mean * t
    rotation = 30 * math.exp(-(((h_mean - 275) / 25) ** 2))
    rc = 2 * math.sqrt(cp_mean**7 / (cp_mean**7 + 25**7))
    rt = -rc * math.sin(math.radians(2 * rotation))
    return math.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhp / sh) ** 2 + rt * (dc / sc) * (dhp / sh))
