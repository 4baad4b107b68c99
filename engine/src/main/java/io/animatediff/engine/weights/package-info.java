/**
 * Tensor file formats: safetensors (read memory-mapped and lazily, written atomically) and the
 * official PyTorch {@code .ckpt} / {@code .pt} zip checkpoints, read through a restricted unpickler
 * that rebuilds tensors and dicts only and never executes code. {@link
 * io.animatediff.engine.weights.TensorSources#open} picks the reader from the file's content.
 */
package io.animatediff.engine.weights;
