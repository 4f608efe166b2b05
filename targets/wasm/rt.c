/* The runtime a standalone onnxjit .wasm links with: what TVM's wasm32 object imports, plus a
 * small host ABI for the tuner's single-kernel modules.
 *
 * TVM's LLVM-codegen'd object needs:
 *   - __TVMBackendAllocWorkspace / __TVMBackendFreeWorkspace: function-pointer *data* symbols,
 *     "linkonce" in the object, so these strong definitions win (intermediates >= 1 KiB);
 *   - __TVMBackendParallelLaunch / __TVMBackendParallelBarrier: serial, or a host-driven pool;
 *   - TVMFFIErrorSetRaisedFromCStrParts: argument-check failures, read back by the host;
 *   - libm (float64 exp etc.) from wasi-libc; float32 transcendentals are lowered to polynomials
 *     before codegen (targets/wasm/fastmath.py).
 * Struct layouts come from the tvm_ffi wheel's headers, so they are right for wasm32 by
 * construction. From shared/reference/wasm/tvmwasm_rt.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <tvm/ffi/c_api.h>
#include <dlpack/dlpack.h>

#define EXPORT(n) __attribute__((export_name(#n)))

/* ---- heap: a spin lock in the threads variant (kernels may allocate workspace inside
 * parallel tasks; wasi-libc's malloc is not built thread-safe here) ---------------------- */
#ifdef TVMWASM_THREADS
static volatile int32_t g_heap_lock;
static void heap_lock(void) { while (__atomic_exchange_n(&g_heap_lock, 1, __ATOMIC_ACQUIRE)) {} }
static void heap_unlock(void) { __atomic_store_n(&g_heap_lock, 0, __ATOMIC_RELEASE); }
#else
static void heap_lock(void) {}
static void heap_unlock(void) {}
#endif
static void* locked_alloc(size_t nbytes) {
  heap_lock();
  void* p = aligned_alloc(64, (nbytes + 63) & ~(size_t)63);
  heap_unlock();
  return p;
}
static void locked_free(void* p) { heap_lock(); free(p); heap_unlock(); }

/* ---- workspace ---------------------------------------------------------- */
static void* ws_alloc(int device_type, int device_id, uint64_t nbytes, int code, int bits) {
  (void)device_type; (void)device_id; (void)code; (void)bits;
  return locked_alloc((size_t)nbytes);
}
static int ws_free(int device_type, int device_id, void* ptr) {
  (void)device_type; (void)device_id; locked_free(ptr); return 0;
}
void* (*__TVMBackendAllocWorkspace)(int, int, uint64_t, int, int) = ws_alloc;
int (*__TVMBackendFreeWorkspace)(int, int, void*) = ws_free;

/* ---- parallel -------------------------------------------------------------
 * Default: serial (run the lambda once with num_task = 1).
 * -DTVMWASM_THREADS (the threads variant: shared memory): a tiny pool. The HOST creates the
 * threads (Node/browser Workers), instantiates the SAME module on the SAME shared memory in each,
 * sets the worker instance's exported __stack_pointer to a private stack and calls
 * tvmwasm_worker_loop(id), which never returns. ParallelLaunch publishes the job, wakes the
 * workers (memory.atomic.notify), runs task 0 itself and spins until they are done (spinning
 * keeps it legal on a browser main thread, where memory.atomic.wait traps). */
typedef struct { void* sync_handle; int32_t num_task; } TVMParallelGroupEnv;
typedef int (*FTVMParallelLambda)(int task_id, TVMParallelGroupEnv* penv, void* cdata);
static int par_barrier(int task_id, TVMParallelGroupEnv* penv) { (void)task_id; (void)penv; return 0; }
#ifndef TVMWASM_THREADS
static int par_launch(FTVMParallelLambda f, void* cdata, int num_task) {
  (void)num_task;
  TVMParallelGroupEnv env = {0, 1};
  return f(0, &env, cdata);
}
#else
static volatile int32_t g_nworkers, g_seq, g_pending, g_ntask;
static FTVMParallelLambda volatile g_f;
static void* volatile g_cdata;
extern void __wasm_init_tls(void*);
EXPORT(tvmwasm_num_workers) int32_t tvmwasm_num_workers(void) {
  return __atomic_load_n(&g_nworkers, __ATOMIC_SEQ_CST);
}
EXPORT(tvmwasm_worker_loop) void tvmwasm_worker_loop(int32_t id) {
  /* per-thread TLS block (errno etc. of wasi-libc); stack pointer already set by host */
  heap_lock();
  void* tls = aligned_alloc(__builtin_wasm_tls_align(), __builtin_wasm_tls_size() + 16);
  heap_unlock();
  __wasm_init_tls(tls);
  int32_t seen = __atomic_load_n(&g_seq, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&g_nworkers, 1, __ATOMIC_SEQ_CST);
  for (;;) {
    while (__atomic_load_n(&g_seq, __ATOMIC_SEQ_CST) == seen)
      __builtin_wasm_memory_atomic_wait32((int32_t*)&g_seq, seen, -1);
    seen = __atomic_load_n(&g_seq, __ATOMIC_SEQ_CST);
    int32_t n = g_ntask;
    if (id < n) {
      TVMParallelGroupEnv env = {0, n};
      g_f(id, &env, g_cdata);
    }
    __atomic_fetch_sub(&g_pending, 1, __ATOMIC_SEQ_CST);
  }
}
static int par_launch(FTVMParallelLambda f, void* cdata, int num_task) {
  int32_t nw = __atomic_load_n(&g_nworkers, __ATOMIC_SEQ_CST);
  int32_t n = nw + 1;
  if (num_task > 0 && num_task < n) n = num_task;
  TVMParallelGroupEnv env = {0, n};
  if (nw == 0) return f(0, &env, cdata);
  g_f = f; g_cdata = cdata; g_ntask = n;
  __atomic_store_n(&g_pending, nw, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&g_seq, 1, __ATOMIC_SEQ_CST);
  __builtin_wasm_memory_atomic_notify((int32_t*)&g_seq, (uint32_t)nw);
  int rc = f(0, &env, cdata);
  while (__atomic_load_n(&g_pending, __ATOMIC_SEQ_CST) != 0) { }
  return rc;
}
#endif
int (*__TVMBackendParallelLaunch)(FTVMParallelLambda, void*, int) = par_launch;
int (*__TVMBackendParallelBarrier)(int, TVMParallelGroupEnv*) = par_barrier;

/* ---- errors ------------------------------------------------------------- */
static char g_err[1024];
void TVMFFIErrorSetRaisedFromCStrParts(const char* kind, const char** parts, int32_t n) {
  size_t off = 0;
  const char* k = kind ? kind : "Error";
  size_t l = strlen(k);
  if (l > sizeof(g_err) - 3) l = sizeof(g_err) - 3;
  memcpy(g_err, k, l); off = l; g_err[off++] = ':'; g_err[off++] = ' ';
  for (int32_t i = 0; i < n; ++i) {
    if (!parts[i]) continue;
    l = strlen(parts[i]);
    if (off + l >= sizeof(g_err)) l = sizeof(g_err) - 1 - off;
    memcpy(g_err + off, parts[i], l); off += l;
  }
  g_err[off] = 0;
}
void TVMFFIErrorSetRaisedFromCStr(const char* kind, const char* msg) {
  const char* p[1] = {msg};
  TVMFFIErrorSetRaisedFromCStrParts(kind, p, 1);
}
EXPORT(tvmwasm_last_error) const char* tvmwasm_last_error(void) { return g_err; }

/* ---- host ABI ------------------------------------------------------------ */
EXPORT(tvmwasm_alloc) void* tvmwasm_alloc(uint32_t nbytes) { return locked_alloc(nbytes); }
EXPORT(tvmwasm_free) void tvmwasm_free(void* p) { locked_free(p); }

/* DLTensor + its shape in one block; CPU device, compact (strides = NULL). */
EXPORT(tvmwasm_tensor) DLTensor* tvmwasm_tensor(void* data, int32_t ndim, const int64_t* shape,
                                                  int32_t dtype_code, int32_t dtype_bits) {
  DLTensor* t = (DLTensor*)malloc(sizeof(DLTensor) + sizeof(int64_t) * (size_t)ndim);
  int64_t* sh = (int64_t*)(t + 1);
  for (int32_t i = 0; i < ndim; ++i) sh[i] = shape[i];
  t->data = data;
  t->device.device_type = kDLCPU;
  t->device.device_id = 0;
  t->ndim = ndim;
  t->dtype.code = (uint8_t)dtype_code;
  t->dtype.bits = (uint8_t)dtype_bits;
  t->dtype.lanes = 1;
  t->shape = sh;
  t->strides = NULL;
  t->byte_offset = 0;
  return t;
}
EXPORT(tvmwasm_args) TVMFFIAny* tvmwasm_args(int32_t n) {
  TVMFFIAny* a = (TVMFFIAny*)calloc((size_t)n + 1, sizeof(TVMFFIAny)); /* +1: result slot */
  return a;
}
EXPORT(tvmwasm_set_tensor) void tvmwasm_set_tensor(TVMFFIAny* args, int32_t i, DLTensor* t) {
  args[i].type_index = kTVMFFIDLTensorPtr;
  args[i].zero_padding = 0;
  args[i].v_int64 = 0;
  args[i].v_ptr = t;
}
EXPORT(tvmwasm_set_int) void tvmwasm_set_int(TVMFFIAny* args, int32_t i, int64_t v) {
  args[i].type_index = kTVMFFIInt;
  args[i].zero_padding = 0;
  args[i].v_int64 = v;
}

/* layout facts, for documentation / host-side struct writing */
EXPORT(tvmwasm_layout) uint32_t tvmwasm_layout(int32_t what) {
  switch (what) {
    case 0: return sizeof(TVMFFIAny);
    case 1: return offsetof(TVMFFIAny, v_ptr);
    case 2: return sizeof(DLTensor);
    case 3: return offsetof(DLTensor, ndim);
    case 4: return offsetof(DLTensor, dtype);
    case 5: return offsetof(DLTensor, shape);
    case 6: return offsetof(DLTensor, strides);
    case 7: return offsetof(DLTensor, byte_offset);
    default: return 0;
  }
}
