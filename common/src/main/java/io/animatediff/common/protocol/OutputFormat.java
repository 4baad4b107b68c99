package io.animatediff.common.protocol;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Output encodings a generation job may ask for; {@code output_formats} carries their JSON names
 * as strings so the validator can name an unknown one instead of failing the parse.
 */
public enum OutputFormat {
    /** Animated GIF, looping, at the job's fps. */
    GIF("gif", "image/gif"),
    /** H.264 in MP4 at the job's fps. */
    MP4("mp4", "video/mp4"),
    /** One PNG per frame. */
    PNG("png", "image/png"),
    /** The decoded frames as raw data for further processing (layout chosen by the worker). */
    FRAMES("frames", "application/octet-stream");

    private final String json;
    private final String contentType;

    OutputFormat(String json, String contentType) {
        this.json = json;
        this.contentType = contentType;
    }

    public String json() {
        return json;
    }

    public String contentType() {
        return contentType;
    }

    /** Looks a format up by its JSON name. */
    public static Optional<OutputFormat> find(String json) {
        return Arrays.stream(values()).filter(f -> f.json.equals(json)).findFirst();
    }

    /** All JSON names, for messages. */
    public static List<String> names() {
        return Arrays.stream(values()).map(OutputFormat::json).toList();
    }
}
