//! ITU-T G.711 µ-law and A-law, from the project's own tables.
//!
//! Both directions are table lookups: a 256-entry decode table and a 65536-entry encode table
//! per law, computed at compile time so the per-sample cost on the media path is one indexed
//! load and nothing is initialised lazily behind a check.

/// µ-law clips magnitudes here so that adding the bias cannot leave the top segment.
const ULAW_CLIP: i32 = 32635;
/// µ-law bias: shifts the segment boundaries to powers of two (G.711 table 2a).
const ULAW_BIAS: i32 = 0x84;

const fn ulaw_encode_computed(sample: i16) -> u8 {
    let mut magnitude = sample as i32;
    let sign: u8 = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0
    };
    if magnitude > ULAW_CLIP {
        magnitude = ULAW_CLIP;
    }
    magnitude += ULAW_BIAS;
    // magnitude is now in 132..=32767, so its top set bit is bit 7..=14: that is the segment.
    let top_bit = 31 - magnitude.leading_zeros() as i32;
    let segment = top_bit - 7;
    let mantissa = (magnitude >> (segment + 3)) & 0x0F;
    // G.711 transmits µ-law inverted so that long runs of silence are not all-zero bytes.
    !(sign | ((segment as u8) << 4) | mantissa as u8)
}

const fn ulaw_decode_computed(byte: u8) -> i16 {
    let code = !byte;
    let segment = (code >> 4) & 0x07;
    let mantissa = (code & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if code & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Upper ends of the A-law segments, on the 13-bit magnitude.
const ALAW_SEGMENT_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

const fn alaw_encode_computed(sample: i16) -> u8 {
    // A-law works on 13 bits; the low three bits of a 16-bit sample carry no information.
    let mut value = (sample as i32) >> 3;
    // A-law inverts the even bits (0x55) so that idle lines have transitions; the sign bit is
    // set for positive values.
    let mask: u8 = if value >= 0 {
        0xD5
    } else {
        value = -value - 1;
        0x55
    };
    let mut segment = 0;
    while segment < 8 && value > ALAW_SEGMENT_END[segment] {
        segment += 1;
    }
    if segment >= 8 {
        return 0x7F ^ mask;
    }
    let mut code = (segment as u8) << 4;
    if segment < 2 {
        code |= ((value >> 1) & 0x0F) as u8;
    } else {
        code |= ((value >> segment) & 0x0F) as u8;
    }
    code ^ mask
}

const fn alaw_decode_computed(byte: u8) -> i16 {
    let code = byte ^ 0x55;
    let mut magnitude = ((code & 0x0F) as i32) << 4;
    let segment = ((code >> 4) & 0x07) as i32;
    // Adding half a step (8, or 0x108 with the segment's leading one) puts the decoded value in
    // the middle of its quantisation interval.
    match segment {
        0 => magnitude += 8,
        1 => magnitude += 0x108,
        _ => {
            magnitude += 0x108;
            magnitude <<= segment - 1;
        }
    }
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn build_decode_table(law: Law) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match law {
            Law::Ulaw => ulaw_decode_computed(i as u8),
            Law::Alaw => alaw_decode_computed(i as u8),
        };
        i += 1;
    }
    table
}

const fn build_encode_table(law: Law) -> [u8; 65536] {
    let mut table = [0u8; 65536];
    let mut i = 0;
    while i < 65536 {
        // Indexed by the sample's bit pattern as u16, so negative samples sit in the top half.
        let sample = i as u16 as i16;
        table[i] = match law {
            Law::Ulaw => ulaw_encode_computed(sample),
            Law::Alaw => alaw_encode_computed(sample),
        };
        i += 1;
    }
    table
}

/// Which companding law a table is built for: function pointers cannot be called in a
/// `const fn`, so the table builders switch on this instead.
#[derive(Clone, Copy)]
enum Law {
    Ulaw,
    Alaw,
}

/// Re-encodes every code of one law in the other, through linear PCM: what a bridge between
/// a µ-law leg and an A-law leg does to each byte, done as one lookup.
const fn build_transcode_table(from: Law, to: Law) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let linear = match from {
            Law::Ulaw => ulaw_decode_computed(i as u8),
            Law::Alaw => alaw_decode_computed(i as u8),
        };
        table[i] = match to {
            Law::Ulaw => ulaw_encode_computed(linear),
            Law::Alaw => alaw_encode_computed(linear),
        };
        i += 1;
    }
    table
}

static ULAW_DECODE: [i16; 256] = build_decode_table(Law::Ulaw);
static ALAW_DECODE: [i16; 256] = build_decode_table(Law::Alaw);
static ULAW_ENCODE: [u8; 65536] = build_encode_table(Law::Ulaw);
static ALAW_ENCODE: [u8; 65536] = build_encode_table(Law::Alaw);
static ULAW_TO_ALAW: [u8; 256] = build_transcode_table(Law::Ulaw, Law::Alaw);
static ALAW_TO_ULAW: [u8; 256] = build_transcode_table(Law::Alaw, Law::Ulaw);

#[inline]
pub fn ulaw_encode(s: i16) -> u8 {
    ULAW_ENCODE[s as u16 as usize]
}

/// The 256 samples the µ-law codes decode to (for loops that decode many bytes).
pub fn ulaw_decode_table() -> &'static [i16; 256] {
    &ULAW_DECODE
}

/// The 256 samples the A-law codes decode to.
pub fn alaw_decode_table() -> &'static [i16; 256] {
    &ALAW_DECODE
}

#[inline]
pub fn ulaw_decode(b: u8) -> i16 {
    ULAW_DECODE[b as usize]
}

#[inline]
pub fn alaw_encode(s: i16) -> u8 {
    ALAW_ENCODE[s as u16 as usize]
}

#[inline]
pub fn alaw_decode(b: u8) -> i16 {
    ALAW_DECODE[b as usize]
}

/// The A-law code for what µ-law code `b` decodes to.
#[inline]
pub fn ulaw_to_alaw(b: u8) -> u8 {
    ULAW_TO_ALAW[b as usize]
}

/// The µ-law code for what A-law code `b` decodes to.
#[inline]
pub fn alaw_to_ulaw(b: u8) -> u8 {
    ALAW_TO_ULAW[b as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_code_points_from_g711() {
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0xFE), 8);
        assert_eq!(ulaw_decode(0x7E), -8);
        assert_eq!(ulaw_decode(0xEF), 132); // first step of segment 1
        assert_eq!(ulaw_encode(132), 0xEF);
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(32124), 0x80);
        assert_eq!(ulaw_encode(-32124), 0x00);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_encode(8), 0xFE);
        assert_eq!(ulaw_encode(-8), 0x7E);
    }

    #[test]
    fn alaw_code_points_from_g711() {
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_decode(0xD4), 24);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(8), 0xD5);
        assert_eq!(alaw_encode(-8), 0x55);
        assert_eq!(alaw_encode(32256), 0xAA);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for b in 0..=255u8 {
            // 0x7F is µ-law's negative zero: it decodes to 0, which encodes as positive zero.
            if b != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(b)), b, "µ-law {b:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(b)), b, "A-law {b:#04x}");
        }
    }

    #[test]
    fn quantisation_error_stays_within_half_a_step() {
        for s in i16::MIN..=i16::MAX {
            let clipped = (s as i32).clamp(-32635, 32635);
            let magnitude = clipped.abs();
            // Half a step is 1/32 of the segment's lower edge: within 1/32 of |s| + bias.
            let ulaw_err = (ulaw_decode(ulaw_encode(s)) as i32 - clipped).abs();
            assert!(
                ulaw_err <= (magnitude + 132) / 32 + 1,
                "µ-law {s}: error {ulaw_err}"
            );
            let alaw_err = (alaw_decode(alaw_encode(s)) as i32 - s as i32).abs();
            assert!(
                alaw_err <= (s as i32).abs() / 32 + 16,
                "A-law {s}: error {alaw_err}"
            );
        }
    }

    #[test]
    fn transcoding_is_decode_then_encode() {
        for b in 0..=255u8 {
            assert_eq!(
                ulaw_to_alaw(b),
                alaw_encode(ulaw_decode(b)),
                "µ-law {b:#04x}"
            );
            assert_eq!(
                alaw_to_ulaw(b),
                ulaw_encode(alaw_decode(b)),
                "A-law {b:#04x}"
            );
        }
        // Silence stays silence across the bridge.
        assert_eq!(ulaw_to_alaw(0xFF), 0xD5);
        assert_eq!(
            alaw_to_ulaw(0xD5),
            0xFE,
            "A-law's smallest step is µ-law's +8"
        );
    }

    #[test]
    fn tables_agree_with_the_formulas() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(s), ulaw_encode_computed(s));
            assert_eq!(alaw_encode(s), alaw_encode_computed(s));
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut previous_u = ulaw_decode(ulaw_encode(i16::MIN));
        let mut previous_a = alaw_decode(alaw_encode(i16::MIN));
        for s in i16::MIN..=i16::MAX {
            let u = ulaw_decode(ulaw_encode(s));
            let a = alaw_decode(alaw_encode(s));
            assert!(u >= previous_u && a >= previous_a, "not monotonic at {s}");
            previous_u = u;
            previous_a = a;
        }
    }
}
