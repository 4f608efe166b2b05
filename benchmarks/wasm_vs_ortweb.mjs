// Times onnxjit's .wasm against onnxruntime-web (wasm backend) in one Node.js process, THREADS each
// (default 1; onnxjit's artifact must then be the threads variant).
//   node benchmarks/wasm_vs_ortweb.mjs DIR [ROUNDS] [RUNS_PER_ROUND] [THREADS]
// DIR holds model.json/model.wasm (onnxjit), model.onnx, input{i}.bin and expected{i}.bin
// (native onnxruntime's outputs), as benchmarks/wasm_vs_ortweb.py writes them. Both sides are timed
// on whole runs (inputs copied in, outputs copied out into preallocated arrays): ours is
// WasmModel.run(inputs, into), theirs InferenceSession.run(feeds, fetches) on tensors made once.
// A third, separate figure: ours in place (zero copy: inputs written once into the model's input
// views, WasmModel.runInPlace() returns output views), which onnxruntime-web's API has no
// equivalent of (its best is what it gets here: tensors and output tensors made once).
// The artifact's best module this engine validates is what "onnxjit" times (relaxed SIMD in Node
// 22+, SIMD128 in Node 20 without --experimental-wasm-relaxed-simd); when that is not the SIMD128
// one, the SIMD128 module is timed too, in the same rounds ("simd128_ms": the fallback's figure).
// Two uncounted warm-up rounds, then rounds interleaving them; per-round medians; prints one
// JSON object.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { loadModel } from '../runtime/wasm_host.mjs';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const ort = require('onnxruntime-web');

const [dir, roundsArg = '5', runsArg = '10', threadsArg = '1'] = process.argv.slice(2);
const rounds = Number(roundsArg), runs = Number(runsArg), threads = Number(threadsArg);

function typed(Typed, path) {
  const raw = readFileSync(path);
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return new Typed(copy.buffer);
}

function relErr(got, want) {
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(Number(got[i]) - Number(want[i]));
    diff = Math.max(diff, Number.isNaN(d) ? Infinity : d);
    scale = Math.max(scale, Math.abs(Number(want[i])));
  }
  return diff / Math.max(scale, 1e-30);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function timeRuns(fn) {
  const ms = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    fn();
    ms.push(performance.now() - start);
  }
  return median(ms);
}

async function timeRunsAsync(fn) {
  const ms = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  return median(ms);
}

ort.env.wasm.numThreads = threads;
const model = await loadModel(join(dir, 'model.json'), { threads });
const hasBaseline = model.variant !== 'simd128' &&
  JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).modules?.some(
    (m) => m.variant === 'simd128');
const baseline = hasBaseline
  ? await loadModel(join(dir, 'model.json'), { threads, variant: 'simd128' }) : null;
const inputs = {}, feeds = {};
model.inputs.forEach((entry, i) => {
  const Typed = model.view(entry).constructor;
  inputs[entry.name] = typed(Typed, join(dir, `input${i}.bin`));
  feeds[entry.name] = new ort.Tensor(entry.dtype, inputs[entry.name], entry.shape);
});
const session = await ort.InferenceSession.create(readFileSync(join(dir, 'model.onnx')),
                                                  { executionProviders: ['wasm'] });
const ours = model.run(inputs);
const theirs = await session.run(feeds);
const base = baseline?.run(inputs);
const errors = model.outputs.map((entry, i) => {
  const want = typed(ours[entry.name].constructor, join(dir, `expected${i}.bin`));
  return { name: entry.name, onnxjit: relErr(ours[entry.name], want),
           ortweb: relErr(theirs[entry.name].data, want),
           ...(base ? { simd128: relErr(base[entry.name], want) } : {}) };
});
// Timed runs write into preallocated outputs on both sides (allocating and page-faulting fresh
// multi-MB arrays per run would dominate memory-bound models), as a serving loop would.
const into = {}, fetches = {};
for (const entry of model.outputs) {
  into[entry.name] = ours[entry.name].slice();
  fetches[entry.name] = new ort.Tensor(entry.dtype, theirs[entry.name].data.slice(), entry.shape);
}
await session.run(feeds, fetches);
// (Views taken after the first runs: a run may grow memory, detaching older views.)
const views = model.inputViews();
for (const entry of model.inputs) views[entry.name].set(inputs[entry.name]);
// Warm-up rounds, not counted: V8 first runs wasm in its baseline tier and swaps in optimised
// code compiled in the background, which on a loaded machine can come after several rounds.
for (let r = 0; r < 2; r++) {
  timeRuns(() => model.run(inputs, into));
  await timeRunsAsync(() => session.run(feeds, fetches));
  timeRuns(() => model.runInPlace());
  if (baseline) timeRuns(() => baseline.run(inputs, into));
}
const perRound = [];
for (let r = 0; r < rounds; r++) {
  const a = timeRuns(() => model.run(inputs, into));
  const b = await timeRunsAsync(() => session.run(feeds, fetches));
  const c = timeRuns(() => model.runInPlace());
  const d = baseline ? timeRuns(() => baseline.run(inputs, into)) : a;
  perRound.push({ onnxjit_ms: a, ortweb_ms: b, speedup: b / a, inplace_ms: c,
                  inplace_speedup: b / c, simd128_ms: d, simd128_speedup: b / d });
}
const summary = (key) => median(perRound.map((x) => x[key]));
console.log(JSON.stringify({
  onnxjit_ms: summary('onnxjit_ms'), ortweb_ms: summary('ortweb_ms'), speedup: summary('speedup'),
  inplace_ms: summary('inplace_ms'), inplace_speedup: summary('inplace_speedup'),
  simd128_ms: summary('simd128_ms'), simd128_speedup: summary('simd128_speedup'),
  variant: model.variant, node: process.version,
  errors, rounds: perRound, ortweb_version: ort.env.versions?.web ?? null,
  ortweb_threads: ort.env.wasm.numThreads, onnxjit_threads: threads,
}));
model.close();
baseline?.close();
