// onnxjit's WebAssembly host for Node.js and browsers: an ES module with no dependencies.
//
//   import { loadModel } from './wasm_host.mjs';
//   const model = await loadModel('model.json');          // a path (Node) or a URL (both)
//   const { y } = model.run({ a: Float32Array, b: Float32Array });   // {name: typed array}
//
// The artifact is what `onnxjit.targets.wasm.model.WasmModel.save` writes: model.wasm (kernels,
// graph function, weights; no imports) and model.json (inputs/outputs: name, shape, dtype and
// where they live in linear memory). One run copies the inputs in, makes one call into wasm
// (`onnxjit_run`), and copies the outputs out.

const TYPED = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
  float16: Uint16Array, bfloat16: Uint16Array,   // raw bits
};
const IN_NODE = typeof process !== 'undefined' && !!process.versions?.node;

async function toUrl(location) {
  if (location instanceof URL) return location;
  if (/^[a-z][a-z0-9+.-]*:/i.test(location)) return new URL(location);
  if (IN_NODE) return (await import('node:url')).pathToFileURL(location);
  return new URL(location, globalThis.document?.baseURI ?? globalThis.location?.href);
}

async function readBytes(url) {
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`onnxjit: fetching ${url} failed: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Loads model.json and the .wasm it names (relative to it). */
export async function loadModel(manifestLocation) {
  const url = await toUrl(manifestLocation);
  const manifest = JSON.parse(new TextDecoder().decode(await readBytes(url)));
  return createModel(await readBytes(new URL(manifest.wasm, url)), manifest);
}

/** A model from the .wasm bytes (or a compiled WebAssembly.Module) and its manifest object. */
export async function createModel(wasm, manifest) {
  const result = await WebAssembly.instantiate(wasm, {});
  return new WasmModel(result.instance ?? result, manifest);
}

export class WasmModel {
  constructor(instance, manifest) {
    this.exports = instance.exports;
    this.manifest = manifest;
    this.exports._initialize?.();
    this.regions = { arena: this.exports.onnxjit_arena(), weights: this.exports.onnxjit_weights() };
    this.inputs = manifest.inputs;
    this.outputs = manifest.outputs;
  }

  /** A typed-array view of a value in linear memory (re-create after any growth). */
  view(entry) {
    const Typed = TYPED[entry.dtype];
    if (!Typed) throw new Error(`onnxjit: dtype ${entry.dtype} of ${entry.name} has no typed array`);
    return new Typed(this.exports.memory.buffer, this.regions[entry.region] + entry.offset,
                     entry.nbytes / Typed.BYTES_PER_ELEMENT);
  }

  /** Copies `inputs` ({name: typed array}) in without running. */
  setInputs(inputs) {
    for (const entry of this.inputs) {
      const value = inputs[entry.name];
      if (value === undefined) throw new Error(`onnxjit: missing input ${entry.name}`);
      const target = this.view(entry);
      if (value.length !== target.length) {
        throw new Error(`onnxjit: input ${entry.name} has ${value.length} elements, ` +
                        `expected ${target.length} (shape [${entry.shape}])`);
      }
      target.set(value);
    }
  }

  /** Runs the model on the inputs already in memory (one call into wasm). */
  call() {
    const status = this.exports.onnxjit_run();
    if (status !== 0) {
      const step = this.manifest.steps[status - 1];
      const at = this.exports.tvmwasm_last_error();
      const bytes = new Uint8Array(this.exports.memory.buffer, at, 1024);
      const message = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
      throw new Error(`onnxjit: wasm kernel ${step.kernel} (${step.nodes}) failed: ${message}`);
    }
  }

  /** {name: typed array} in, {name: typed array (a copy)} out. `into` ({name: typed array},
   *  optional) receives the outputs instead of fresh arrays: reused buffers skip allocating and
   *  page-faulting new ones (15 ms for 16 MB in Node; the copy itself is ~2 ms). */
  run(inputs, into = undefined) {
    this.setInputs(inputs);
    this.call();
    return Object.fromEntries(this.outputs.map((entry) => {
      const view = this.view(entry);
      const out = into?.[entry.name];
      if (out === undefined) return [entry.name, view.slice()];
      out.set(view);
      return [entry.name, out];
    }));
  }
}
