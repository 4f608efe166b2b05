// Runs an onnxjit .wasm artifact in Node.js on raw feeds (used by tests and benchmarks):
//   node wasm_run.mjs MODEL.json DIR [--repeats N] [--variant simd128|relaxed-simd]
// reads DIR/input{i}.bin (manifest order), writes DIR/output{i}.bin, and prints one JSON line:
// {"variant": the module loaded (the best this engine validates unless --variant)}; with
// --repeats, also times N full runs (copy in, one wasm call, copy out): "median_ms", "ms".
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from './wasm_host.mjs';

const [manifestPath, dir, ...rest] = process.argv.slice(2);
const option = (name) => {
  const at = rest.indexOf(name);
  return at < 0 ? undefined : rest[at + 1];
};
const model = await loadModel(manifestPath, { variant: option('--variant') });
const inputs = {};
model.inputs.forEach((entry, i) => {
  const raw = readFileSync(join(dir, `input${i}.bin`));
  const bytes = new Uint8Array(raw.byteLength);
  bytes.set(raw);   // an aligned copy: typed arrays need element-aligned offsets
  inputs[entry.name] = new (model.view(entry).constructor)(bytes.buffer);
});
const outputs = model.run(inputs);
model.outputs.forEach((entry, i) => {
  const out = outputs[entry.name];
  writeFileSync(join(dir, `output${i}.bin`), new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
});
const report = { variant: model.variant };
const repeats = option('--repeats');
if (repeats !== undefined) {
  const ms = [];
  for (let r = 0; r < Number(repeats); r++) {
    const start = performance.now();
    model.run(inputs);
    ms.push(performance.now() - start);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  Object.assign(report, { median_ms: sorted[sorted.length >> 1], ms });
}
console.log(JSON.stringify(report));
model.close();
