#!/usr/bin/env python3
"""Writes a pcap of one steady G.711 A-law RTP stream for SIPp's play_pcap_audio: one 20 ms
packet every 20 ms for SECONDS, no silence suppression, payload a 440 Hz tone under a slow
warble so no frame is the codec's silence. SIPp's own g711a.pcap is 7 s with gaps (33
packets/s); load runs that mean "both sides speaking" need 50/s for the whole call.

    python3 steady_rtp_pcap.py SECONDS OUT.pcap
"""
import math
import struct
import sys


def alaw(sample):
    """ITU-T G.711 A-law encoding of a 16-bit linear sample."""
    sign = 0x00 if sample < 0 else 0x80
    if sample < 0:
        sample = -sample - 1
    sample = min(sample, 32635) >> 3
    if sample >= 32:
        exponent = int(math.log2(sample >> 4)) + 1
        mantissa = (sample >> exponent) & 0x0F
        code = (exponent << 4) | mantissa
    else:
        code = sample >> 1
    return (code | sign) ^ 0x55


def main():
    seconds, out = float(sys.argv[1]), sys.argv[2]
    packets = int(seconds * 50)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n in range(packets):
            payload = bytes(
                alaw(int(8000 * math.sin(2 * math.pi * 440 * (n * 160 + i) / 8000)
                         * (0.6 + 0.4 * math.sin(2 * math.pi * 0.5 * (n * 160 + i) / 8000))))
                for i in range(160))
            rtp = struct.pack("!BBHII", 0x80, 8 | (0x80 if n == 0 else 0), n & 0xFFFF,
                              (n * 160) & 0xFFFFFFFF, 0x5EED0001) + payload
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
            frame = b"\x00" * 12 + b"\x08\x00" + ip
            t = n * 0.020
            f.write(struct.pack("<IIII", int(t), int(round((t - int(t)) * 1e6)), len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
