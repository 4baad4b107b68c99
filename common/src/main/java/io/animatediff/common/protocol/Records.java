package io.animatediff.common.protocol;

import io.animatediff.common.InvalidMessageException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Structural checks shared by the protocol records. */
final class Records {
    private Records() {}

    /** An immutable copy; null means empty; a null entry is refused naming its index. */
    static <T> List<T> list(List<T> values, String field) {
        if (values == null) {
            return List.of();
        }
        for (int i = 0; i < values.size(); i++) {
            if (values.get(i) == null) {
                throw new InvalidMessageException(
                        field + "[" + i + "]", "entry is null: remove it or give a value", null);
            }
        }
        return Collections.unmodifiableList(new ArrayList<>(values));
    }

    static <T> T required(T value, String field) {
        if (value == null) {
            throw new InvalidMessageException(field, "required field is missing: add it", null);
        }
        return value;
    }

    static String nonBlank(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new InvalidMessageException(field, "required field is missing or blank: add it", null);
        }
        return value;
    }

    static int atLeast(int value, int min, String field) {
        if (value < min) {
            throw new InvalidMessageException(field, "must be >= " + min + ", got " + value, null);
        }
        return value;
    }
}
