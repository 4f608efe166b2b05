// onnxjit's WebAssembly host for Node.js and browsers: an ES module with no dependencies.
//
//   import { loadModel } from './wasm_host.mjs';
//   const model = await loadModel('model.json');          // a path (Node) or a URL (both)
//   const { y } = model.run({ a: Float32Array, b: Float32Array });   // {name: typed array}
//
// The artifact is what `onnxjit.targets.wasm.model.WasmModel.save` writes: model.wasm (kernels,
// graph function, weights; no imports), model.relaxed.wasm (the same with relaxed SIMD: FMA) and
// model.json (inputs/outputs: name, shape, dtype and where they live in linear memory; "modules":
// the variants, best first, with the engine features each needs). loadModel fetches only the
// first module this engine validates (relaxed SIMD: Chrome 114+, Node 22+; Node 20 only with
// --experimental-wasm-relaxed-simd), `model.variant` names it; options.variant picks one.
// One run copies the inputs in, makes one call into wasm (`onnxjit_run`), and copies the
// outputs out.
//
// Zero copy: inputs and outputs have fixed places in the module's memory, so a caller may write
// the inputs there itself and read the outputs there:
//   const { a, b } = model.inputViews();   // typed arrays over wasm memory
//   a.set(...); b.set(...);                  // (or fill them in place: a KV cache, a decoder step)
//   const { y } = model.runInPlace();        // one call, no copies; views valid until the next run
// `run()` also skips the copy of any input given as its own view. Views detach when memory grows,
// which the first run may do (kernel workspaces on the heap; later runs reuse them): take views
// again after it, or whenever one has length 0.
//
// Threads variant (compiled with threads > 1; manifest.memory.shared): the module imports a shared
// memory, and this file starts the worker pool itself (Node worker_threads or browser module
// Workers running this same file), each instantiating the module on that memory with a stack of
// its own; browsers allow shared memory only in cross-origin-isolated pages (COOP + COEP
// headers). `model.close()` stops the workers.

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

// A module whose one function is f32x4.relaxed_madd: engines without relaxed SIMD refuse it
// (onnxjit.targets.wasm.variants.RELAXED_PROBE holds the same bytes).
const FEATURE_PROBES = {
  'relaxed-simd': new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b,
    0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20,
    0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b]),
};

/** Whether this engine runs modules that need `features` (names, as in manifest.modules). */
export function supportsFeatures(features) {
  return features.every((name) => FEATURE_PROBES[name] !== undefined &&
                                  WebAssembly.validate(FEATURE_PROBES[name]));
}

/** The manifest with `wasm`, `variant` and `features` of the module to load: options.variant
 *  if given, else the first of manifest.modules this engine validates, else the last (the
 *  fallback; if the engine refuses it too, compiling it says why). */
export function chooseModule(manifest, options = {}) {
  const modules = manifest.modules ??
    [{ variant: 'simd128', wasm: manifest.wasm, features: manifest.features ?? [] }];
  const chosen = options.variant !== undefined
    ? modules.find((m) => m.variant === options.variant)
    : modules.find((m) => supportsFeatures(m.features)) ?? modules[modules.length - 1];
  if (chosen === undefined) {
    throw new Error(`onnxjit: this model has no ${options.variant} module ` +
                    `(it has ${modules.map((m) => m.variant).join(', ')})`);
  }
  return { ...manifest, wasm: chosen.wasm, variant: chosen.variant, features: chosen.features };
}

/** Loads model.json and the one .wasm it lists that this engine runs best (relative to it).
 *  options.threads: threads of the threads variant, this one included (default: what it was
 *  compiled for); options.variant: load that module ('simd128', 'relaxed-simd'). */
export async function loadModel(manifestLocation, options = {}) {
  const url = await toUrl(manifestLocation);
  const manifest = chooseModule(JSON.parse(new TextDecoder().decode(await readBytes(url))),
                                options);
  return createModel(await readBytes(new URL(manifest.wasm, url)), manifest, options);
}

/** A model from the .wasm bytes (or a compiled WebAssembly.Module) and its manifest object
 *  (chooseModule's: `variant` and `features` name the module these bytes are). */
export async function createModel(wasm, manifest, options = {}) {
  const module = wasm instanceof WebAssembly.Module ? wasm : await compile(wasm, manifest);
  if (!manifest.memory?.shared) {
    return new WasmModel(await WebAssembly.instantiate(module, {}), manifest);
  }
  if (!IN_NODE && !globalThis.crossOriginIsolated) {
    throw new Error('onnxjit: this model is the threads variant, which needs shared memory: ' +
                    'serve the page cross-origin isolated (COOP same-origin, COEP require-corp)');
  }
  const { initial, maximum } = manifest.memory;
  const memory = new WebAssembly.Memory({ initial, maximum, shared: true });
  const model = new WasmModel(await WebAssembly.instantiate(module, { env: { memory } }),
                              manifest, memory);
  await model.startWorkers(module, (options.threads ?? manifest.threads ?? 1) - 1);
  return model;
}

async function compile(bytes, manifest) {
  try {
    return await WebAssembly.compile(bytes);
  } catch (error) {
    if (!manifest.features?.includes('relaxed-simd')) throw error;
    throw new Error('onnxjit: this module was built with relaxed SIMD (target wasm-relaxed), ' +
                    'which this engine refuses (Node 20: run node ' +
                    '--experimental-wasm-relaxed-simd; Chromium 114+ and Node 22+ ship it; ' +
                    'target wasm also carries a SIMD128 module): ' + error.message);
  }
}

const WORKER_STACK = 1 << 20;

/** A worker running this file; resolves once it has instantiated the module (it then enters
 *  the runtime's worker loop, registering itself, and never returns). Readiness is a message,
 *  not polling: a timer loop would burn a headless browser's virtual-time budget. */
async function spawnWorker(data) {
  if (IN_NODE) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(new URL(import.meta.url), { workerData: data });
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    worker.unref();   // it never returns: the process may still exit
    return worker;
  }
  const worker = new Worker(import.meta.url, { type: 'module' });
  await new Promise((resolve, reject) => {
    worker.onmessage = resolve;
    worker.onerror = (event) => reject(new Error(`onnxjit: worker failed: ${event.message}`));
    worker.postMessage(data);
  });
  return worker;
}

async function runWorker({ module, memory, id, stackTop }, post) {
  const { exports } = await WebAssembly.instantiate(module, { env: { memory } });
  exports.__stack_pointer.value = stackTop;
  post('ready');
  exports.tvmwasm_worker_loop(id);   // waits for ParallelLaunch jobs; never returns
}

// This file is also the workers' script.
if (IN_NODE) {
  const threads = await import('node:worker_threads');
  if (!threads.isMainThread && threads.workerData?.onnxjitWorker) {
    runWorker(threads.workerData, (m) => threads.parentPort.postMessage(m));
  }
} else if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) {
  globalThis.onmessage = (event) => {
    if (event.data?.onnxjitWorker) runWorker(event.data, (m) => globalThis.postMessage(m));
  };
}

export class WasmModel {
  constructor(instance, manifest, memory = undefined) {
    this.exports = instance.exports;
    this.manifest = manifest;
    // the instruction-set variant running (a manifest not from chooseModule: its `wasm`'s)
    this.variant = manifest.variant ??
      manifest.modules?.find((m) => m.wasm === manifest.wasm)?.variant ?? 'simd128';
    this.memory = memory ?? this.exports.memory;
    this.workers = [];
    this.exports._initialize?.();
    this.regions = { arena: this.exports.onnxjit_arena(), weights: this.exports.onnxjit_weights() };
    this.inputs = manifest.inputs;
    this.outputs = manifest.outputs;
  }

  /** Starts `count` workers on the shared memory. (A job launched before a worker has
   *  registered runs on the threads already there: correct, only slower.) */
  async startWorkers(module, count) {
    for (let id = 1; id <= count; id++) {
      const stackTop = this.exports.tvmwasm_alloc(WORKER_STACK) + WORKER_STACK;
      this.workers.push(await spawnWorker({ onnxjitWorker: true, module, memory: this.memory,
                                            id, stackTop }));
    }
  }

  /** Stops the workers (threads variant); the model cannot run afterwards. */
  close() {
    for (const worker of this.workers) worker.terminate();
    this.workers = [];
  }

  /** A typed-array view of a value in linear memory (re-create after any growth). */
  view(entry) {
    const Typed = TYPED[entry.dtype];
    if (!Typed) throw new Error(`onnxjit: ${entry.name} has dtype ${entry.dtype}: no typed array`);
    return new Typed(this.memory.buffer, this.regions[entry.region] + entry.offset,
                     entry.nbytes / Typed.BYTES_PER_ELEMENT);
  }

  /** {name: typed array over wasm memory} for the inputs (zero copy: write them in place). The
   *  views stay valid while memory does not grow (the first run may grow it; a detached view
   *  has length 0: get new ones). */
  inputViews() {
    return Object.fromEntries(this.inputs.map((entry) => [entry.name, this.view(entry)]));
  }

  /** {name: typed array over wasm memory} for the outputs; overwritten by the next run. */
  outputViews() {
    return Object.fromEntries(this.outputs.map((entry) => [entry.name, this.view(entry)]));
  }

  /** Runs on the inputs already in memory (written through inputViews) and returns the output
   *  views: no copies either way. */
  runInPlace() {
    this.call();
    return this.outputViews();
  }

  /** Copies `inputs` ({name: typed array}) in without running; an input given as its own
   *  in-memory view (inputViews) is already there. */
  setInputs(inputs) {
    for (const entry of this.inputs) {
      const value = inputs[entry.name];
      if (value === undefined) throw new Error(`onnxjit: missing input ${entry.name}`);
      const target = this.view(entry);
      if (value.buffer === target.buffer && value.byteOffset === target.byteOffset &&
          value.length === target.length) {
        continue;
      }
      if (value.length !== target.length) {
        throw new Error(`onnxjit: input ${entry.name} has ${value.length} elements, ` +
                        `expected ${target.length} (shape [${entry.shape}])` +
                        (value.length === 0 ? ': a view detached by memory growth? ' +
                         'get new ones from inputViews()' : ''));
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
      const bytes = new Uint8Array(this.memory.buffer, at, 1024).slice();   // (not shared)
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
