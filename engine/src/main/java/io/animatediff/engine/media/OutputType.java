package io.animatediff.engine.media;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What a generation hands back, like diffusers' {@code output_type}: an encoded file, a folder of
 * frames, the decoded frames in memory, or the undecoded latents.
 */
public enum OutputType {
    /** Animated GIF file ({@link GifWriter}). */
    GIF(".gif"),
    /** MP4 file with an H.264 video track ({@link Mp4Writer}). */
    MP4(".mp4"),
    /**
     * A folder of lossless frames {@code frame_0000.png, frame_0001.png, ...} ({@link PngFrames});
     * the folder itself has no extension.
     */
    PNG(""),
    /** The decoded frames in memory ({@link Frames}, like diffusers' "np"); nothing is written. */
    FRAMES(""),
    /** The latents before VAE decoding (B, C, F, H, W), saved by the engine as safetensors. */
    LATENT(".safetensors");

    private final String extension;

    OutputType(String extension) {
        this.extension = extension;
    }

    /**
     * File-name suffix of the written output including the dot ({@code ".gif"}), or {@code ""} for a
     * folder ({@link #PNG}) or an in-memory result ({@link #FRAMES}).
     */
    public String extension() {
        return extension;
    }

    /** Parses a name case-insensitively ("gif", "MP4", " png "); an unknown name lists the allowed ones. */
    public static OutputType parse(String name) {
        if (name != null) {
            String wanted = name.trim().toUpperCase(Locale.ROOT);
            for (OutputType type : values()) {
                if (type.name().equals(wanted)) {
                    return type;
                }
            }
        }
        throw new IllegalArgumentException(
                "unknown output type " + (name == null ? "null" : "'" + name + "'") + ": allowed are " + allowed());
    }

    /** The accepted names, lower case, comma separated: "gif, mp4, png, frames, latent". */
    public static String allowed() {
        return Arrays.stream(values())
                .map(t -> t.name().toLowerCase(Locale.ROOT))
                .collect(Collectors.joining(", "));
    }
}
