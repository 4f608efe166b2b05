// onnxjit WebGPU host: runs a webgpu-target model exported by runtime/webgpu_export.py
// (model.json + constants.bin) with the browser's navigator.gpu.
//
//   import { loadModel } from './webgpu_host.mjs';
//   const model = await loadModel('model.json');
//   const outputs = await model.run({ x: new Float32Array(...) });   // name -> typed array
//
// The manifest is runtime/wgsl_layout.py's layout: storage buffers (constants with their bytes
// in constants.bin), then dispatches in plan order, each naming its WGSL entry point, the buffers
// bound at @binding(0..n-1), the uniform words bound at @binding(n) (scalar arguments and
// packGridDimX, TVM's WebGPU convention) and the workgroup grid. WGSL has no 64-bit or 8-bit
// storage, so int64 and bool values cross as int32; run() converts both ways (int64 inputs must
// fit in int32) and hands outputs back in their ONNX types (BigInt64Array, Uint8Array for bool).

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, int16: Int16Array, uint16: Uint16Array,
  int8: Int8Array, uint8: Uint8Array, bool: Uint8Array,
};

/** The typed-array class holding values of an ONNX/numpy dtype name. */
export function arrayType(dtype) {
  const type = ARRAYS[dtype];
  if (!type) throw new Error(`no typed array for dtype ${dtype}`);
  return type;
}

/** The dtype a value is stored as on the device (mirrors wgsl_layout.device_dtype). */
export function deviceDtype(dtype) {
  const narrowed = ['int64', 'uint64', 'int16', 'uint16', 'int8', 'uint8', 'bool'];
  return narrowed.includes(dtype) ? 'int32' : dtype;
}

function toDevice(entry, values) {
  const dtype = deviceDtype(entry.dtype);
  if (dtype === entry.dtype) return values;
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (v < -2147483648 || v > 2147483647) {
      throw new Error(`input ${entry.name} (${entry.dtype}) holds ${v}, outside int32: ` +
                      'the webgpu target computes int64 as int32');
    }
    out[i] = v;
  }
  return out;
}

function fromDevice(entry, bytes, count) {
  const stored = new (arrayType(deviceDtype(entry.dtype)))(bytes, 0, count);
  if (deviceDtype(entry.dtype) === entry.dtype) return stored.slice();
  const Type = arrayType(entry.dtype);
  const big = Type === BigInt64Array || Type === BigUint64Array;
  return Type.from(stored, (v) => (big ? BigInt(v) : v));
}

const elements = (shape) => shape.reduce((a, b) => a * b, 1);

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetching ${url}: ${response.status}`);
  return response;
}

export class WebGpuModel {
  constructor(manifest, device, adapterInfo, buffers, dispatches, readbacks) {
    this.manifest = manifest;
    this.device = device;
    this.adapterInfo = adapterInfo;
    this.inputs = manifest.inputs;
    this.outputs = manifest.outputs;
    this.buffers = buffers;
    this.dispatches = dispatches;
    this.readbacks = readbacks;
  }

  /** A typed array of the entry's dtype and size over `buffer` (e.g. a fetched .bin file). */
  view(entry, buffer) {
    return new (arrayType(entry.dtype))(buffer, 0, elements(entry.shape));
  }

  /** Runs the model: inputs maps input names to typed arrays; resolves to name -> typed array. */
  async run(inputs) {
    const { device } = this;
    device.pushErrorScope('validation');
    for (const entry of this.inputs) {
      if (entry.buffer < 0) continue;
      const values = inputs[entry.name];
      if (!values) throw new Error(`missing input ${entry.name}`);
      if (values.length !== elements(entry.shape)) {
        throw new Error(`input ${entry.name}: ${values.length} values, expected shape ` +
                        `[${entry.shape}]`);
      }
      device.queue.writeBuffer(this.buffers[entry.buffer], 0, toDevice(entry, values));
    }
    const encoder = device.createCommandEncoder();
    for (const d of this.dispatches) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.group);
      pass.dispatchWorkgroups(...d.grid);
      pass.end();
    }
    for (const [i, entry] of this.outputs.entries()) {
      const source = this.buffers[entry.buffer];
      encoder.copyBufferToBuffer(source, 0, this.readbacks[i], 0, source.size);
    }
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) throw new Error(`WebGPU validation: ${error.message}`);
    const result = {};
    for (const [i, entry] of this.outputs.entries()) {
      const readback = this.readbacks[i];
      await readback.mapAsync(GPUMapMode.READ);
      result[entry.name] = fromDevice(entry, readback.getMappedRange(), elements(entry.shape));
      readback.unmap();
    }
    return result;
  }
}

/** Loads model.json (and the constants.bin beside it) onto a WebGPU device. */
export async function loadModel(url, { gpu = globalThis.navigator?.gpu } = {}) {
  if (!gpu) throw new Error('this browser has no WebGPU (navigator.gpu)');
  const manifest = await (await fetchOk(url)).json();
  if (manifest.format !== 'onnxjit-webgpu-1') throw new Error(`unknown format ${manifest.format}`);
  const base = new URL(url, location.href);
  const constants = await (await fetchOk(new URL(manifest.constants, base))).arrayBuffer();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() found no adapter');
  const wanted = {};
  const limits = ['maxStorageBuffersPerShaderStage', 'maxStorageBufferBindingSize',
                  'maxBufferSize'];
  for (const key of limits) {
    wanted[key] = adapter.limits[key];
  }
  const device = await adapter.requestDevice({ requiredLimits: wanted });
  const info = adapter.info || {};
  const adapterInfo =
    `${info.vendor || '?'}/${info.architecture || '?'} ${info.description || ''}`.trim();
  device.pushErrorScope('validation');
  const U = GPUBufferUsage;
  const buffers = manifest.buffers.map((b) => {
    const usage = U.STORAGE | U.COPY_SRC | U.COPY_DST;
    const buffer = device.createBuffer({ size: b.bytes, usage });
    if (b.init) device.queue.writeBuffer(buffer, 0, constants, b.init[0], b.init[1]);
    return buffer;
  });
  const pipelines = {};
  for (const [name, code] of Object.entries(manifest.shaders)) {
    const module = device.createShaderModule({ code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      const text = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
      throw new Error(`WGSL of ${name}: ${text}`);
    }
    pipelines[name] = await device.createComputePipelineAsync({
      layout: 'auto', compute: { module, entryPoint: name } });
  }
  const dispatches = manifest.dispatches.map((d) => {
    const words = new Uint32Array(d.uniform);
    const uniform = device.createBuffer({ size: words.byteLength,
                                          usage: U.UNIFORM | U.COPY_DST });
    device.queue.writeBuffer(uniform, 0, words);
    const pipeline = pipelines[d.kernel];
    const entries = d.buffers.map((index, binding) => ({ binding,
                                                         resource: { buffer: buffers[index] } }));
    entries.push({ binding: d.buffers.length, resource: { buffer: uniform } });
    const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    return { pipeline, group, grid: d.grid };
  });
  const readbacks = manifest.outputs.map((entry) => device.createBuffer({
    size: manifest.buffers[entry.buffer].bytes, usage: U.MAP_READ | U.COPY_DST }));
  const error = await device.popErrorScope();
  if (error) throw new Error(`WebGPU validation while loading: ${error.message}`);
  return new WebGpuModel(manifest, device, adapterInfo, buffers, dispatches, readbacks);
}
