/**
 * Checkpoint file formats: the safetensors layout, a positional writer and a validating reader,
 * and a converter from safetensors to PyTorch's {@code torch.save} format.
 *
 * <p>Files are written and read by position through a {@link java.nio.channels.FileChannel}, so
 * chunks of a checkpoint may arrive in any order and neither side ever holds a whole file on the
 * heap. All sizes and positions are {@code long}: checkpoints larger than 4 GiB are normal.
 * This package does no EMA arithmetic and knows nothing of Kafka.
 */
package io.averager.format;
