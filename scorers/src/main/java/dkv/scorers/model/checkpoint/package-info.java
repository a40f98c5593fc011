/**
 * PyTorch zip checkpoints ({@code pytorch_model*.bin}) read without executing their pickles:
 * {@link dkv.scorers.model.checkpoint.TorchCheckpointIndex} (a snapshot's file or shards) gives each tensor as a
 * {@link dkv.scorers.model.SafetensorsIndex.Entry} (file, dtype, shape, byte range), from
 * {@link dkv.scorers.model.checkpoint.TorchCheckpointFile} (zip directory + restricted unpickler);
 * {@link dkv.scorers.model.checkpoint.MappedWeightBytes} maps the ranges.
 */
package dkv.scorers.model.checkpoint;
