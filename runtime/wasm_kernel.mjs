// Runs or times one TVM-FFI kernel of a single-kernel onnxjit .wasm in Node.js (V8), for the tuner
// of the "wasm-node" target (runtime/wasm_host.py: NodeKernel):
//   node wasm_kernel.mjs SPEC.json run                     -> writes each array's file back
//   node wasm_kernel.mjs SPEC.json time REPEATS MIN_SECONDS -> prints {"seconds": [...]}
// SPEC: {"wasm": path, "kernel": name, "arrays": [{"file", "shape", "dtype", "code", "bits"}]},
// inputs then outputs, as raw little-endian bytes. Timing mirrors targets/base.time_calls: warm
// up, grow the batch until it lasts MIN_SECONDS, then REPEATS batches.
import { readFileSync, writeFileSync } from 'node:fs';

const [specPath, mode, repeatsArg, minArg] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const { instance } = await WebAssembly.instantiate(readFileSync(spec.wasm), {});
const ex = instance.exports;
ex._initialize?.();
const bytes = (at, n) => new Uint8Array(ex.memory.buffer, at, n);

const args = ex.tvmwasm_args(spec.arrays.length);
const places = spec.arrays.map((a, i) => {
  const raw = readFileSync(a.file);
  const data = ex.tvmwasm_alloc(Math.max(raw.byteLength, 1));
  const shape = ex.tvmwasm_alloc(8 * Math.max(a.shape.length, 1));
  new BigInt64Array(ex.memory.buffer, shape, a.shape.length).set(a.shape.map(BigInt));
  bytes(data, raw.byteLength).set(raw);
  ex.tvmwasm_set_tensor(args, i, ex.tvmwasm_tensor(data, a.shape.length, shape, a.code, a.bits));
  return { data, n: raw.byteLength, file: a.file };
});
const kernel = ex[`__tvm_ffi_${spec.kernel}`];
const result = args + 16 * spec.arrays.length;
const call = () => {
  if (kernel(0, args, spec.arrays.length, result) !== 0) {
    const at = ex.tvmwasm_last_error();
    const b = bytes(at, 1024);
    throw new Error(`wasm kernel ${spec.kernel} failed: ${new TextDecoder().decode(b.subarray(0, b.indexOf(0)))}`);
  }
};

if (mode === 'run') {
  call();
  for (const p of places) writeFileSync(p.file, bytes(p.data, p.n));
} else {
  const repeats = Number(repeatsArg), minSeconds = Number(minArg);
  call();
  let number = 1, elapsed = 0;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < number; i++) call();
    elapsed = (performance.now() - start) / 1e3;
    if (elapsed >= minSeconds || number >= 1 << 20) break;
    number *= elapsed <= 0 ? 2 : Math.max(2, Math.min(8, Math.floor(minSeconds / elapsed) + 1));
  }
  const seconds = [elapsed / number];
  for (let r = 1; r < repeats; r++) {
    const start = performance.now();
    for (let i = 0; i < number; i++) call();
    seconds.push((performance.now() - start) / 1e3 / number);
  }
  console.log(JSON.stringify({ seconds }));
}
