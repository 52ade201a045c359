//! RFC 3389 comfort noise: reading the level a peer's CN packet announces, and generating
//! noise at a given level to fill a silent stream.
//!
//! Owns the CN payload type, the level byte's meaning (-dBov, where 0 dBov is a full-scale
//! square wave: RMS 32767 in 16-bit linear PCM) and a deterministic pseudo-random generator.
//! The spectral coefficients a CN payload may carry after the level are ignored: the noise
//! is white, which RFC 3389 allows ("the receiver may use ... white noise"). Pure: no
//! allocation, no clock, no I/O.

/// The static payload type RFC 3389 registers for comfort noise at 8 kHz.
pub const CN_PAYLOAD_TYPE: u8 = 13;

/// The level a CN payload announces, in -dBov (0 = overload, 127 = silence). `None` for an
/// empty payload. The top bit of the byte is reserved (RFC 3389 section 3) and ignored.
pub fn noise_level(payload: &[u8]) -> Option<u8> {
    payload.first().map(|&level| level & 0x7F)
}

/// The level that means digital silence.
pub const SILENT_LEVEL_DBOV: u8 = 127;

/// RMS of a 0 dBov signal in 16-bit linear PCM (a full-scale square wave).
const FULL_SCALE_RMS: f32 = 32767.0;

/// A white-noise generator: xorshift32, so the same seed always gives the same noise.
#[derive(Debug, Clone)]
pub struct ComfortNoise {
    state: u32,
}

impl ComfortNoise {
    /// A generator started from `seed` (a zero seed is replaced by a fixed non-zero one, since
    /// xorshift never leaves zero).
    pub fn new(seed: u32) -> ComfortNoise {
        ComfortNoise {
            state: if seed == 0 { 0x9E37_79B9 } else { seed },
        }
    }

    fn next_unit(&mut self) -> f32 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        // Uniform in [-1, 1).
        (x as f32 / 2_147_483_648.0) - 1.0
    }

    /// Fills `pcm` with noise whose RMS is `level_dbov` below full scale; level 127 (or more)
    /// writes digital silence. Samples are uniform noise, clipped to the i16 range, so levels
    /// louder than about -5 dBov come out slightly quieter than asked.
    pub fn fill(&mut self, level_dbov: u8, pcm: &mut [i16]) {
        if level_dbov >= SILENT_LEVEL_DBOV {
            pcm.fill(0);
            return;
        }
        let rms = FULL_SCALE_RMS * 10f32.powf(-f32::from(level_dbov) / 20.0);
        // Uniform noise on [-a, a) has RMS a / sqrt(3).
        let peak = rms * 3f32.sqrt();
        for sample in pcm.iter_mut() {
            let value = (self.next_unit() * peak).round();
            *sample = value.clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms_dbov(pcm: &[i16]) -> f64 {
        let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        let rms = (energy / pcm.len() as f64).sqrt();
        20.0 * (rms / f64::from(FULL_SCALE_RMS)).log10()
    }

    #[test]
    fn the_level_is_the_first_byte_without_its_reserved_bit() {
        assert_eq!(noise_level(&[]), None);
        assert_eq!(noise_level(&[0]), Some(0));
        assert_eq!(noise_level(&[40]), Some(40));
        assert_eq!(noise_level(&[127, 1, 2, 3]), Some(127));
        assert_eq!(noise_level(&[0x80 | 55]), Some(55));
        assert_eq!(CN_PAYLOAD_TYPE, 13);
    }

    #[test]
    fn generated_noise_has_the_asked_rms_within_one_db() {
        let mut noise = ComfortNoise::new(12345);
        let mut pcm = [0i16; 8000];
        for level in [6u8, 10, 20, 30, 40, 50, 60, 70] {
            noise.fill(level, &mut pcm);
            let measured = rms_dbov(&pcm);
            assert!(
                (measured + f64::from(level)).abs() <= 1.0,
                "level -{level} dBov measured {measured:.2} dBov"
            );
        }
    }

    #[test]
    fn level_127_is_digital_silence() {
        let mut noise = ComfortNoise::new(7);
        let mut pcm = [99i16; 160];
        noise.fill(127, &mut pcm);
        assert_eq!(pcm, [0i16; 160]);
    }

    #[test]
    fn the_same_seed_gives_the_same_noise_and_another_seed_does_not() {
        let (mut a, mut b, mut c) = (
            ComfortNoise::new(42),
            ComfortNoise::new(42),
            ComfortNoise::new(43),
        );
        let (mut pa, mut pb, mut pc) = ([0i16; 160], [0i16; 160], [0i16; 160]);
        for _ in 0..3 {
            a.fill(30, &mut pa);
            b.fill(30, &mut pb);
            c.fill(30, &mut pc);
            assert_eq!(pa, pb);
            assert_ne!(pa, pc);
        }
        let mut zero = ComfortNoise::new(0);
        zero.fill(30, &mut pa);
        assert!(pa.iter().any(|&s| s != 0), "a zero seed still makes noise");
    }
}
