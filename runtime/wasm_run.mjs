// Runs an onnxjit .wasm artifact in Node.js on raw feeds (used by tests and benchmarks):
//   node wasm_run.mjs MODEL.json DIR [--repeats N]
// reads DIR/input{i}.bin (manifest order), writes DIR/output{i}.bin; with --repeats, also times N
// full runs (copy in, one wasm call, copy out) and prints {"median_ms": ..., "ms": [...]}.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from './wasm_host.mjs';

const [manifestPath, dir, flag, count] = process.argv.slice(2);
const model = await loadModel(manifestPath);
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
if (flag === '--repeats') {
  const ms = [];
  for (let r = 0; r < Number(count); r++) {
    const start = performance.now();
    model.run(inputs);
    ms.push(performance.now() - start);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  console.log(JSON.stringify({ median_ms: sorted[sorted.length >> 1], ms }));
}
