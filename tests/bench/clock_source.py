#!/usr/bin/env python3
"""A real-time video source with the wall clock in every frame, for the latency benchmark.

Writes raw 8-bit gray frames (WIDTH x HEIGHT, FPS per second, paced by the clock) to stdout, for
`ffmpeg -f rawvideo -pix_fmt gray -s WxH -r FPS -i -`. Each frame carries the time it was made,
milliseconds since the Unix epoch, as a barcode across the top: BITS blocks, most significant
first, white for 1 and black for 0, between a white block on the left and a black one on the
right (markers a reader checks). The rest of the frame is a moving gradient, so the encoder has
something to encode. tests/bench/latency.mjs reads the barcode back off the screen.
"""
import os
import sys
import time

WIDTH, HEIGHT, FPS = 640, 360, 30
BITS = 44  # ms since 1970 fit in 41 bits until the year 2039 and beyond; 44 leave room
BLOCK = WIDTH // (BITS + 2)  # one block per bit, plus the two markers
BAND = 64  # barcode height


def frame(ms: int, n: int) -> bytes:
    bits = [1] + [(ms >> (BITS - 1 - i)) & 1 for i in range(BITS)] + [0]
    row = bytearray(WIDTH)
    for i, b in enumerate(bits):
        row[i * BLOCK:(i + 1) * BLOCK] = (b'\xeb' if b else b'\x10') * BLOCK
    band = bytes(row) * BAND
    shade = bytes((x + 4 * n) % 200 + 20 for x in range(WIDTH))
    return band + shade * (HEIGHT - BAND)


def main() -> None:
    out = sys.stdout.buffer
    start = time.monotonic()
    n = 0
    try:
        while True:
            due = start + n / FPS
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            out.write(frame(int(time.time() * 1000), n))
            out.flush()
            n += 1
    except (BrokenPipeError, KeyboardInterrupt):
        os._exit(0)


if __name__ == "__main__":
    main()
