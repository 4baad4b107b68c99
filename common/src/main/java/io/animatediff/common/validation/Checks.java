package io.animatediff.common.validation;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.protocol.ModelNames;
import java.util.List;

/** Range and name checks shared by the validators; each adds a violation naming field and limit. */
final class Checks {
    private Checks() {}

    static void intRange(List<Violation> out, String field, int value, int min, int max, String why) {
        if (value < min || value > max) {
            out.add(Violation.error(
                    field,
                    field + " is " + value + ", allowed " + min + " to " + max + why + ": pass a value in that range"));
        }
    }

    static void doubleRange(List<Violation> out, String field, double value, double min, double max) {
        if (!(value >= min && value <= max)) { // NaN fails too
            out.add(Violation.error(
                    field,
                    field + " is " + value + ", allowed " + min + " to " + max + ": pass a value in that range"));
        }
    }

    static void size(List<Violation> out, String field, int value, int min, int max, int multiple) {
        if (value < min || value > max || value % multiple != 0) {
            int lower = Math.max(min, Math.floorDiv(value, multiple) * multiple);
            String hint = value >= min && value <= max ? " (nearest allowed below: " + lower + ")" : "";
            out.add(Violation.error(
                    field,
                    field + " is " + value + ", allowed multiples of " + multiple + " from " + min + " to " + max + hint
                            + ": the VAE works on " + multiple + "x" + multiple + " pixel blocks"));
        }
    }

    /**
     * A required model name: not blank, well-formed, registered. Returns true when it is valid and
     * registered.
     */
    static boolean model(List<Violation> out, String field, String name, ModelKind kind, ModelCatalog catalog) {
        if (name == null || name.isBlank()) {
            out.add(Violation.error(field, field + " is required: name a registered " + kindText(kind)));
            return false;
        }
        if (!ModelNames.isValid(name)) {
            out.add(Violation.error(
                    field, field + " '" + abbreviate(name) + "' is not a valid model name: use " + ModelNames.rule()));
            return false;
        }
        if (!catalog.contains(kind, name)) {
            out.add(Violation.error(
                    field,
                    field + ": no " + kindText(kind) + " named '" + name + "' is registered (models/" + kind.json()
                            + "/" + name + "/): register it first or pick a registered one"));
            return false;
        }
        return true;
    }

    static String kindText(ModelKind kind) {
        return switch (kind) {
            case BASE -> "base model";
            case MOTION -> "motion module";
            case LORA -> "LoRA";
            case MOTION_LORA -> "MotionLoRA";
        };
    }

    static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
