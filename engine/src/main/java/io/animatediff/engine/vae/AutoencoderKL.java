package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.unet.VideoLayout;
import java.util.function.UnaryOperator;

/**
 * Ports diffusers.models.autoencoders.autoencoder_kl.AutoencoderKL (no slicing; tiled decoding as
 * its {@code tiled_decode}): images in [-1, 1] to a diagonal Gaussian over latents and latents back
 * to images. Keys are diffusers': encoder.*, decoder.*, quant_conv.*, post_quant_conv.*.
 *
 * <p>Tiling: latents wider or taller than the tile size ({@value #TILE_PROPERTY}, in latent pixels,
 * default {@value #DEFAULT_TILE_LATENT} = diffusers' SD1.5 {@code sample_size} 512 / 8; 0 turns it
 * off) decode as overlapping tiles blended linearly across the overlap (see {@link TiledDecode}), so
 * the decoder's peak memory depends on the tile size, not the image size.
 *
 * <p>Latent spaces: {@link #encode} returns the VAE's own latents z; the UNet works on
 * {@link #scale}(z) = (z - shift) * scaling_factor; {@link #decode} takes {@link #unscale}(x) = x /
 * scaling_factor + shift, i.e. latents already brought back to the VAE's space.
 */
public final class AutoencoderKL extends Module {
    final AutoencoderKLConfig config;
    final Encoder encoder;
    final Decoder decoder;
    final Conv2d quantConv;
    final Conv2d postQuantConv;

    /** System property: tile side in latent pixels above which {@link #decode} tiles; 0 turns tiling off. */
    public static final String TILE_PROPERTY = "animatediff.vae.tile";
    /** Default tile side in latent pixels: diffusers' tile_latent_min_size for SD1.5 (512 / 8). */
    public static final int DEFAULT_TILE_LATENT = 64;

    private volatile int tileLatent = tileFromProperty();

    public AutoencoderKL(AutoencoderKLConfig config) {
        this.config = config;
        int latent = config.latentChannels();
        encoder = child("encoder", new Encoder(config));
        decoder = child("decoder", new Decoder(config));
        quantConv = config.useQuantConv() ? child("quant_conv", new Conv2d(2L * latent, 2L * latent, 1, 1, 0)) : null;
        postQuantConv =
                config.usePostQuantConv() ? child("post_quant_conv", new Conv2d(latent, latent, 1, 1, 0)) : null;
    }

    public AutoencoderKLConfig config() {
        return config;
    }

    /** images (N, Cin, H, W) in [-1, 1] -> the latent distribution over (N, L, H / 8, W / 8). */
    public DiagonalGaussianDistribution latentDist(NDArray images) {
        check(images, 4, config.inChannels(), "images (N, C, H, W)");
        NDArray moments = encoder.forward(images); // (N, 2 L, h, w)
        if (quantConv != null) {
            moments = quantConv.forward(moments);
        }
        return new DiagonalGaussianDistribution(moments);
    }

    /** images (N, Cin, H, W) in [-1, 1] -> the latent distribution's mean (N, L, H / 8, W / 8). */
    public NDArray encode(NDArray images) {
        return latentDist(images).mean();
    }

    /** latents (N, L, h, w) in the VAE's space (already unscaled) -> images (N, Cout, 8h, 8w), about [-1, 1]. */
    public NDArray decode(NDArray latents) {
        check(latents, 4, config.latentChannels(), "latents (N, L, h, w)");
        Shape s = latents.getShape();
        int tile = tileLatent;
        if (tile > 0 && (s.get(2) > tile || s.get(3) > tile)) {
            return TiledDecode.decode(latents, tile, config.downscale(), this::decodeWhole);
        }
        return decodeWhole(latents);
    }

    /** {@link #decode} without tiling: the whole latent image at once. */
    public NDArray decodeWhole(NDArray latents) {
        check(latents, 4, config.latentChannels(), "latents (N, L, h, w)");
        NDArray z = postQuantConv == null ? latents : postQuantConv.forward(latents);
        return decoder.forward(z);
    }

    /** Tile side in latent pixels above which {@link #decode} tiles (0: never). */
    public int tileLatent() {
        return tileLatent;
    }

    /**
     * Sets the tile side in latent pixels ({@code >= 4} and a multiple of 4, so that the 25%
     * overlap is whole pixels), or 0 to decode whole images.
     */
    public void setTileLatent(int tile) {
        tileLatent = checkTile(tile, "setTileLatent");
    }

    private static int tileFromProperty() {
        String value = System.getProperty(TILE_PROPERTY);
        if (value == null) {
            return DEFAULT_TILE_LATENT;
        }
        try {
            return checkTile(Integer.parseInt(value.trim()), "-D" + TILE_PROPERTY);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + TILE_PROPERTY + "=" + value
                    + " is not a tile size: give latent pixels, a multiple of 4 (64 = 512 px), or 0 for no tiling");
        }
    }

    private static int checkTile(int tile, String where) {
        if (tile != 0 && (tile < 4 || tile % 4 != 0)) {
            throw new IllegalArgumentException(where + ": VAE tile " + tile
                    + " must be 0 (no tiling) or a multiple of 4 latent pixels >= 4, e.g. 64 (512 px)");
        }
        return tile;
    }

    /**
     * latents (B, L, F, h, w) in the VAE's space (already unscaled) -> video (B, Cout, F, 8h, 8w) on
     * the latents' manager. Decodes {@code framesPerChunk} frames of every sample per call (the
     * reference decodes one frame at a time); each chunk's intermediates live in a child manager
     * closed before the next chunk, so memory does not grow with F.
     */
    public NDArray decodeVideo(NDArray latents, int framesPerChunk) {
        check(latents, 5, config.latentChannels(), "video latents (B, L, F, h, w)");
        return perFrameChunks(latents, framesPerChunk, this::decode);
    }

    /**
     * video (B, Cin, F, H, W) in [-1, 1] -> latent means (B, L, F, H / 8, W / 8) on the video's
     * manager, {@code framesPerChunk} frames per encoder call (memory bounded like {@link #decodeVideo}).
     */
    public NDArray encodeVideo(NDArray video, int framesPerChunk) {
        check(video, 5, config.inChannels(), "video (B, C, F, H, W)");
        return perFrameChunks(video, framesPerChunk, this::encode);
    }

    /** VAE latents z -> UNet latents (z - shift) * scaling_factor. */
    public NDArray scale(NDArray z) {
        NDArray shifted = config.shiftFactor() == 0.0 ? z : z.sub(config.shiftFactor());
        return shifted.mul(config.scalingFactor());
    }

    /** UNet latents x -> VAE latents x / scaling_factor + shift (what {@link #decode} takes). */
    public NDArray unscale(NDArray x) {
        NDArray z = x.div(config.scalingFactor());
        return config.shiftFactor() == 0.0 ? z : z.add(config.shiftFactor());
    }

    /**
     * Applies {@code images} ((N, C, H, W) -> (N, C', H', W')) to every frame of x (B, C, F, H, W),
     * {@code chunk} frames of each sample at a time, each chunk inside its own child manager;
     * returns (B, C', F, H', W') on x's manager.
     */
    private static NDArray perFrameChunks(NDArray x, int chunk, UnaryOperator<NDArray> images) {
        if (chunk < 1) {
            throw new IllegalArgumentException("framesPerChunk must be >= 1, got " + chunk);
        }
        NDManager manager = x.getManager();
        long frames = x.getShape().get(2);
        NDArray out = null; // (B, C', F, H', W')
        for (long start = 0; start < frames; start += chunk) {
            long end = Math.min(frames, start + chunk);
            try (NDManager scope = manager.newSubManager()) {
                NDArray part = x.get(new NDIndex(":, :, {}:{}", start, end)); // (B, C, Fc, H, W)
                part.attach(scope);
                NDArray result = images.apply(VideoLayout.fold(part)); // ((B Fc), C', H', W')
                NDArray video = VideoLayout.unfold(result, (int) (end - start)); // (B, C', Fc, H', W')
                if (out == null) {
                    Shape s = video.getShape();
                    out = manager.zeros(new Shape(s.get(0), s.get(1), frames, s.get(3), s.get(4)), video.getDataType());
                }
                out.set(new NDIndex(":, :, {}:{}", start, end), video);
            }
        }
        return out;
    }

    private static void check(NDArray x, int dims, int channels, String what) {
        Shape s = x.getShape();
        if (s.dimension() != dims || s.get(1) != channels) {
            throw new IllegalArgumentException("VAE expects " + what + " with C = " + channels + ", got " + s);
        }
        for (int i = 0; i < dims; i++) {
            if (s.get(i) < 1) {
                throw new IllegalArgumentException("VAE got an empty input " + s + " for " + what);
            }
        }
    }
}
