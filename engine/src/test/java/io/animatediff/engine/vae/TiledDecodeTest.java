package io.animatediff.engine.vae;

import static io.animatediff.engine.vae.AutoencoderKLTest.assertClose;
import static io.animatediff.engine.vae.AutoencoderKLTest.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.animatediff.engine.config.AutoencoderKLConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Tiled VAE decoding: tile geometry exactly, the blend ramps, and the tiny VAE tiled against whole. */
class TiledDecodeTest {
    private static NDManager manager;
    private static AutoencoderKL vae;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        vae = new AutoencoderKL(AutoencoderKLConfig.tiny());
        vae.initialize(manager, 7);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    /** A local "decoder": every latent pixel becomes a factor x factor block, channels kept. */
    private static NDArray upsample(NDArray x, int factor) {
        return x.repeat(2, factor).repeat(3, factor); // (N, C, factor h, factor w)
    }

    @Test
    void withALocalDecoderTiledEqualsWholeForUnevenSizes() {
        try (NDManager m = manager.newSubManager()) {
            for (long[] hw : new long[][] {{20, 28}, {8, 9}, {13, 6}, {30, 30}}) {
                NDArray z = randn(m, hw[0] * 31 + hw[1], new Shape(2, 4, hw[0], hw[1])); // (N, L, h, w)
                NDArray tiled = TiledDecode.decode(z, 8, 8, x -> upsample(x, 8));
                NDArray whole = upsample(z, 8);
                assertEquals(whole.getShape(), tiled.getShape(), "h, w = " + hw[0] + ", " + hw[1]);
                // overlapping tiles hold identical pixels, so any blend of them is the pixel itself
                assertClose(whole.toFloatArray(), tiled.toFloatArray(), 1e-6, 1e-6);
            }
        }
    }

    @Test
    void blendsRampLinearlyAcrossTheOverlapLikeTheReference() {
        try (NDManager m = manager.newSubManager()) {
            NDArray a = m.full(new Shape(1, 1, 10, 3), 2f); // (N, C, h, w)
            NDArray b = m.zeros(new Shape(1, 1, 6, 3));
            TiledDecode.blendV(a, b, 4);
            float[] v = b.toFloatArray();
            for (int y = 0; y < 6; y++) {
                // reference: b[y] = a[-4 + y] * (1 - y / 4) + b[y] * (y / 4) for y < 4, else unchanged
                double expected = y < 4 ? 2.0 * (1 - y / 4.0) : 0.0;
                for (int x = 0; x < 3; x++) {
                    assertEquals(expected, v[y * 3 + x], 1e-6, "blend_v row " + y);
                }
            }
            NDArray left = m.full(new Shape(1, 2, 2, 5), 4f);
            NDArray right = m.full(new Shape(1, 2, 2, 3), 1f);
            TiledDecode.blendH(left, right, 8); // the extent is capped by the narrower tile: 3
            float[] h = right.toFloatArray();
            for (int x = 0; x < 3; x++) {
                double expected = 4.0 * (1 - x / 3.0) + 1.0 * (x / 3.0);
                assertEquals(expected, h[x], 1e-6, "blend_h column " + x);
            }
        }
    }

    /**
     * The tiny decoder's receptive field is ~14 latent pixels (conv_in, 4 convs of the mid block, 4
     * of up block 0 at latent resolution, then halving per upsampling) and its group norms and
     * mid-block attention are global, so tiles of 8 latents differ everywhere (no pixel is further
     * than 4 from a tile edge). With 32-latent tiles the top-left 144 pixels of the first tile lie
     * beyond the receptive field of any tile edge and differ only through the global statistics:
     * measured 0.037 mean relative there, 0.13 over the whole image (seed 4, 40x40 latents).
     */
    @Test
    void tinyVaeTiledMatchesWholeWhereTheReceptiveFieldAllows() {
        AutoencoderKL tiledVae = new AutoencoderKL(AutoencoderKLConfig.tiny());
        tiledVae.initialize(manager, 7);
        tiledVae.setTileLatent(32); // 256-pixel tiles, 64-pixel blends
        try (NDManager m = manager.newSubManager()) {
            NDArray small = randn(m, 3, new Shape(1, 4, 32, 24)); // fits one tile: not tiled
            assertClose(vae.decode(small).toFloatArray(), tiledVae.decode(small).toFloatArray(), 0, 0);

            NDArray z = randn(m, 4, new Shape(1, 4, 40, 40)); // (N, L, h, w): 2 x 2 tiles
            NDArray whole = vae.decodeWhole(z); // (1, 3, 320, 320)
            NDArray tiled = tiledVae.decode(z);
            assertEquals(new Shape(1, 3, 320, 320), tiled.getShape());
            float[] w = whole.toFloatArray();
            float[] t = tiled.toFloatArray();
            double all = relativeMeanDiff(w, t, 320, 0, 320);
            double interior = relativeMeanDiff(w, t, 320, 0, 144);
            assertTrue(
                    interior < 0.08, "interior of the first tile: mean |tiled - whole| / mean |whole| = " + interior);
            assertTrue(all < 0.25, "whole image: " + all);
            assertTrue(interior > 0 && interior < all, "interior " + interior + " vs all " + all);
            // the smaller the tile, the more pixels lie within reach of a tile edge
            tiledVae.setTileLatent(16);
            double smaller = relativeMeanDiff(w, tiledVae.decode(z).toFloatArray(), 320, 0, 320);
            assertTrue(smaller > all, "16-latent tiles " + smaller + " vs 32-latent " + all);
        }
    }

    /** sum |a - b| / sum |a| over channels and the square [from, to) of (1, 3, side, side) images. */
    private static double relativeMeanDiff(float[] a, float[] b, int side, int from, int to) {
        double diff = 0;
        double scale = 0;
        for (int c = 0; c < 3; c++) {
            for (int y = from; y < to; y++) {
                for (int x = from; x < to; x++) {
                    int i = (c * side + y) * side + x;
                    diff += Math.abs(a[i] - b[i]);
                    scale += Math.abs(a[i]);
                }
            }
        }
        return diff / scale;
    }

    @Test
    void tileSizesAreCheckedWithTheFix() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vae.setTileLatent(6));
        assertTrue(e.getMessage().contains("multiple of 4"), e.getMessage());
        assertEquals(AutoencoderKL.DEFAULT_TILE_LATENT, vae.tileLatent());
    }
}
