package io.animatediff.engine.model;

import java.nio.file.Path;
import java.util.regex.Pattern;

/** A LoRA file and the scale to merge it with. */
public record LoraSpec(Path file, double scale) {
    private static final Pattern NUMBER = Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");

    public LoraSpec {
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException("LoRA scale for " + file + " must be a finite number, got " + scale);
        }
    }

    /** Parses {@code FILE[:SCALE]}; the scale defaults to 1. */
    public static LoraSpec parse(String spec) {
        int colon = spec.lastIndexOf(':');
        if (colon > 0 && NUMBER.matcher(spec.substring(colon + 1)).matches()) {
            return new LoraSpec(Path.of(spec.substring(0, colon)), Double.parseDouble(spec.substring(colon + 1)));
        }
        return new LoraSpec(Path.of(spec), 1.0);
    }
}
