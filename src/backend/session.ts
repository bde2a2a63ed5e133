// Encoder sessions: one loaded ONNX graph, run with one input tensor, returning one float32 output.
import { BackendError, describe } from './errors';
import { initOrtRuntime, ort } from './ort-runtime';

export type InputData = Float32Array | BigInt64Array | Int32Array;

export interface OutputTensor {
  data: Float32Array;
  dims: number[];
}

export interface EncoderSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph on one input; returns `outputName` (default: the first output) as float32. */
  run(inputName: string, data: InputData, dims: readonly number[], outputName?: string): Promise<OutputTensor>;
  /** Frees the graph's wasm memory; the session is unusable afterwards. */
  dispose(): Promise<void>;
}

/** Loads an ONNX graph. Rejects with BackendError: backend_unavailable (503) or model_invalid. */
export async function createEncoderSession(modelBytes: Uint8Array): Promise<EncoderSession> {
  await initOrtRuntime();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelBytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
  } catch (cause) {
    throw new BackendError('model_invalid', `ONNX Runtime could not load the model: ${describe(cause)}`, { cause });
  }
  return new OrtEncoderSession(session);
}

class OrtEncoderSession implements EncoderSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  // Runs are chained: one isolate serves concurrent requests, and ORT-web's wasm session is not
  // meant to be entered again while a run is in flight.
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(private readonly session: ort.InferenceSession) {
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
  }

  run(inputName: string, data: InputData, dims: readonly number[], outputName?: string): Promise<OutputTensor> {
    const result = this.queue.then(() => this.runNow(inputName, data, dims, outputName));
    this.queue = result.catch(() => undefined);
    return result;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue;
    await this.session.release();
  }

  private async runNow(
    inputName: string,
    data: InputData,
    dims: readonly number[],
    outputName = this.outputNames[0],
  ): Promise<OutputTensor> {
    if (this.disposed) throw new BackendError('bad_input', 'the session has been disposed');
    if (!this.inputNames.includes(inputName)) {
      throw new BackendError('bad_input', `the graph has no input "${inputName}" (it has ${this.inputNames.join(', ')})`);
    }
    if (outputName === undefined || !this.outputNames.includes(outputName)) {
      throw new BackendError('bad_input', `the graph has no output "${outputName}" (it has ${this.outputNames.join(', ')})`);
    }
    const size = dims.reduce((a, b) => a * b, 1);
    if (!dims.every((d) => Number.isInteger(d) && d >= 0) || size !== data.length) {
      throw new BackendError('bad_input', `dims [${dims.join(', ')}] do not match ${data.length} values`);
    }

    const input = new ort.Tensor(tensorType(data), data, [...dims]);
    let outputs: ort.InferenceSession.OnnxValueMapType;
    try {
      outputs = await this.session.run({ [inputName]: input }, [outputName]);
    } catch (cause) {
      throw new BackendError('inference_failed', `ONNX Runtime failed to run the model: ${describe(cause)}`, { cause });
    } finally {
      input.dispose();
    }
    const output = outputs[outputName];
    try {
      if (!output || output.type !== 'float32') {
        throw new BackendError('inference_failed', `output "${outputName}" is ${output?.type ?? 'missing'}, not float32`);
      }
      // Copy out of ORT's buffers so that disposing the tensor cannot change what the caller holds.
      return { data: Float32Array.from(output.data as Float32Array), dims: [...output.dims] };
    } finally {
      for (const value of Object.values(outputs)) value.dispose();
    }
  }
}

function tensorType(data: InputData): 'float32' | 'int64' | 'int32' {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'int32';
}
