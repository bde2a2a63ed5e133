// Wrangler and vitest-pool-workers turn `import m from "*.wasm"` into a compiled WebAssembly.Module
// (CompiledWasm module rule), which is the only way workerd lets a Worker get wasm code.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
