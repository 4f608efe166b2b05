// Zero-copy use of runtime/wasm_host.mjs (tests/targets/test_wasm_node.py):
//   node wasm_in_place.mjs MODEL.json DIR
// writes DIR/input{i}.bin into the model's input views, runs in place, runs again through run()
// on the views and in place once more (same outputs), checks the outputs are views over wasm
// memory, and writes DIR/output{i}.bin from them.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../runtime/wasm_host.mjs';

const [manifestPath, dir] = process.argv.slice(2);
const model = await loadModel(manifestPath);
const views = model.inputViews();
model.inputs.forEach((entry, i) => {
  const raw = readFileSync(join(dir, `input${i}.bin`));
  new Uint8Array(views[entry.name].buffer, views[entry.name].byteOffset, entry.nbytes).set(raw);
});
model.runInPlace();
// The first run may grow memory (kernel workspaces), detaching views: take them again.
const outputs = model.run(model.inputViews());   // inputs given as their own views: not copied
const inPlace = model.runInPlace();
model.outputs.forEach((entry, i) => {
  const view = inPlace[entry.name];
  if (view.buffer !== model.memory.buffer) throw new Error(`${entry.name}: not a wasm view`);
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const copy = outputs[entry.name];
  if (Buffer.compare(bytes, new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength))) {
    throw new Error(`${entry.name}: in-place and copying runs differ`);
  }
  writeFileSync(join(dir, `output${i}.bin`), bytes);
});
