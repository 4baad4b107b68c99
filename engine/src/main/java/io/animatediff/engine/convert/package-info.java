/**
 * Checkpoint key tables: pure string and shape logic that maps the key names of the checkpoint
 * layouts users bring (original LDM single files, official AnimateDiff motion modules, diffusers
 * MotionAdapters, kohya / PEFT / diffusers LoRAs, MotionLoRAs) onto the key names the engine's
 * modules hold, which are exactly diffusers' state-dict names (motion modules: the official
 * AnimateDiff layout).
 *
 * <p>Everything here is strict: a key is either mapped by an explicit table, ignored as a documented
 * family ({@link io.animatediff.engine.convert.LdmKeyTable.IgnoredFamily}), or reported as
 * unexpected. Nothing is guessed and nothing is dropped silently.
 *
 * <p>Shapes: LDM VAE attention projections are stored as 1x1 convolutions {@code (C, C, 1, 1)} and
 * become linear weights {@code (C, C)}; LoRA down weights are {@code (r, Cin)} or
 * {@code (r, Cin, kh, kw)}, up weights {@code (Cout, r)} or {@code (Cout, r, 1, 1)}.
 */
package io.animatediff.engine.convert;
