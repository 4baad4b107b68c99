package io.animatediff.engine.world;

import java.nio.file.Path;

/**
 * The files of one trained miniature world: {@code base/} and {@code personalized/} (diffusers
 * folders), {@code motion.safetensors} (official key layout) and {@code lora.safetensors} (PEFT
 * layout, on the base).
 */
public record MiniWorldSet(Path root) {
    public Path base() {
        return root.resolve("base");
    }

    public Path personalized() {
        return root.resolve("personalized");
    }

    public Path motion() {
        return root.resolve("motion.safetensors");
    }

    public Path lora() {
        return root.resolve("lora.safetensors");
    }
}
