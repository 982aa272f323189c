// WASM side of tests/bench/edge.sh: loads the module with the plain WebAssembly API (no
// wasm-bindgen, no imports), copies the FLV file into its memory, cuts the first chunk
// (`prepare`), then times `run(N)` with performance.now() and reports the best round.
//
// Usage: node run.mjs MODULE.wasm FILE.flv [ITERATIONS=200] [ROUNDS=7]
// Prints the same key=value lines as the native edge-bench, plus `host_io_ms`: what a Worker
// adds around the build, copying the chunk into WASM memory and the segment out of it.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const [wasmPath, flvPath, itArg, roundsArg] = process.argv.slice(2);
if (!wasmPath || !flvPath) {
  console.error("usage: node run.mjs MODULE.wasm FILE.flv [ITERATIONS] [ROUNDS]");
  process.exit(2);
}
const iterations = Math.max(Number(itArg ?? 200), 1);
const rounds = Math.max(Number(roundsArg ?? 7), 1);

const module = await WebAssembly.compile(readFileSync(wasmPath));
const { exports: w } = await WebAssembly.instantiate(module, {});

const flv = readFileSync(flvPath);
const ptr = w.alloc(flv.length);
new Uint8Array(w.memory.buffer, ptr, flv.length).set(flv); // view taken after alloc (memory may grow)
const chunkBytes = w.prepare(ptr, flv.length) >>> 0;
if (chunkBytes === 0) throw new Error(`prepare failed on ${flvPath}`);

// Warm-up: lets V8 tier up from Liftoff to TurboFan before timing.
const segmentBytes = w.run(Math.min(iterations, 20)) >>> 0;
if (segmentBytes === 0) throw new Error("run built nothing");
const digest = w.digest() >>> 0;
w.copy(Math.min(iterations, 20));

function best(f) {
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    f();
    times.push((performance.now() - t) / iterations);
  }
  return times.sort((a, b) => a - b);
}
const times = best(() => {
  const n = w.run(iterations) >>> 0;
  if (n !== segmentBytes) throw new Error(`segment size changed: ${n} != ${segmentBytes}`);
});
const copy = best(() => w.copy(iterations));
// Host I/O of one request: the chunk (an ArrayBuffer from the store) into WASM memory, the
// segment out into a fresh JS buffer (what a Response body needs).
w.run(1);
const chunk = new Uint8Array(w.memory.buffer, w.chunk_ptr(), chunkBytes).slice();
const io = best(() => {
  for (let i = 0; i < iterations; i++) {
    new Uint8Array(w.memory.buffer, w.chunk_ptr(), chunkBytes).set(chunk);
    new Uint8Array(w.memory.buffer, w.segment_ptr(), segmentBytes).slice();
  }
});
console.log(`chunk_bytes=${chunkBytes}`);
console.log(`segment_bytes=${segmentBytes}`);
console.log(`digest=${digest.toString(16).padStart(8, "0")}`);
console.log(`ms_per_segment=${times[0].toFixed(4)}`);
console.log(`ms_per_segment_median=${times[times.length >> 1].toFixed(4)}`);
console.log(`copy_ms=${copy[0].toFixed(4)}`);
console.log(`host_io_ms=${io[0].toFixed(4)}`);
console.log(`engine=node ${process.version} (V8 ${process.versions.v8})`);
