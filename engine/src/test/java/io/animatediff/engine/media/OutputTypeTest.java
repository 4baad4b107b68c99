package io.animatediff.engine.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class OutputTypeTest {

    @Test
    void parsesNamesCaseInsensitively() {
        assertEquals(OutputType.GIF, OutputType.parse("gif"));
        assertEquals(OutputType.MP4, OutputType.parse(" MP4 "));
        assertEquals(OutputType.PNG, OutputType.parse("Png"));
        assertEquals(OutputType.FRAMES, OutputType.parse("frames"));
        assertEquals(OutputType.LATENT, OutputType.parse("LATENT"));
    }

    @Test
    void unknownNamesListTheAllowedOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OutputType.parse("webp"));
        assertEquals("unknown output type 'webp': allowed are gif, mp4, png, frames, latent", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> OutputType.parse(null));
        assertEquals("unknown output type null: allowed are gif, mp4, png, frames, latent", e.getMessage());
    }

    @Test
    void extensions() {
        assertEquals(".gif", OutputType.GIF.extension());
        assertEquals(".mp4", OutputType.MP4.extension());
        assertEquals("", OutputType.PNG.extension());
        assertEquals("", OutputType.FRAMES.extension());
        assertEquals(".safetensors", OutputType.LATENT.extension());
    }
}
