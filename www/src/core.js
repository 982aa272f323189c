// The RapidRTMP core compiled to WebAssembly, loaded on first use: the same FLV demuxer,
// inspector and CMAF packager the edge runs.
import init, { inspect, packageHls, packageMp4 } from '../pkg/rapidrtmp_www.js';

let ready;

/** The core's functions, once its WASM module is instantiated. */
export async function core() {
  ready ??= init().then(() => ({ inspect, packageHls, packageMp4 }));
  try {
    return await ready;
  } catch (e) {
    ready = undefined;
    throw new Error(`the WASM core did not load: ${e.message ?? e}`);
  }
}

/** Largest file the page reads into memory (WASM memory tops out at 4 GiB). */
export const MAX_FILE_BYTES = 1024 ** 3;

/** The bytes of a File, or a clear error when it is too large to handle in the page. */
export async function fileBytes(file) {
  if (file.size > MAX_FILE_BYTES) {
    throw new Error(`${file.name} is ${(file.size / 1024 ** 3).toFixed(1)} GB; the page handles files up to 1 GB (use the rapidrtmp command line for larger ones)`);
  }
  return new Uint8Array(await file.arrayBuffer());
}
