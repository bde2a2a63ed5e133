// The encoder backend: the only module that knows onnxruntime-web. Everything else imports from here.
export { BackendError, type BackendErrorCode } from './errors';
export { initOrtRuntime, wasmMemoryBytes } from './ort-runtime';
export { createEncoderSession, type EncoderSession, type InputData, type OutputTensor } from './session';
