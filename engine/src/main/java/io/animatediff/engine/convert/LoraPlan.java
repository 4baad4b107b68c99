package io.animatediff.engine.convert;

import java.util.List;

/**
 * What a LoRA file changes: its detected format and one {@link LoraTarget} per modified weight, in
 * the file's key order.
 */
public record LoraPlan(Format format, List<LoraTarget> targets) {

    public LoraPlan {
        targets = List.copyOf(targets);
    }

    /** The key layouts {@link LoraKeys} reads. */
    public enum Format {
        /** kohya-ss sd-scripts: {@code lora_unet_down_blocks_0_..._to_q.lora_down.weight}, {@code lora_te_...}. */
        KOHYA("kohya (diffusers module names)"),
        /** kohya-ss with the original LDM UNet names: {@code lora_unet_input_blocks_1_1_..., middle_block, output_blocks}. */
        KOHYA_LDM("kohya (original LDM module names)"),
        /** PEFT as saved by diffusers: {@code unet.<module>.lora_A.weight / lora_B.weight}, {@code text_encoder.<module>...}. */
        PEFT("PEFT (lora_A / lora_B)"),
        /** Older diffusers: {@code .lora.down/up.weight}, {@code .lora_linear_layer.down/up.weight}, {@code .processor.to_q_lora.down/up.weight}. */
        DIFFUSERS("diffusers (lora.down/up, lora_linear_layer, attention processor)"),
        /** AnimateDiff MotionLoRA: attention-processor LoRA on the motion modules only. */
        ANIMATEDIFF_MOTION_LORA("AnimateDiff MotionLoRA (processor.to_q_lora on motion modules)");

        private final String displayName;

        Format(String displayName) {
            this.displayName = displayName;
        }

        /** Human-readable name for logs and errors. */
        public String displayName() {
            return displayName;
        }
    }

    /** The targets on one component. */
    public List<LoraTarget> targets(Component c) {
        return targets.stream().filter(t -> t.component() == c).toList();
    }
}
