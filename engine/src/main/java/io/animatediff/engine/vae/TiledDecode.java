package io.animatediff.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Ports diffusers.models.autoencoders.autoencoder_kl.AutoencoderKL.tiled_decode with its blend_v and
 * blend_h (huggingface/diffusers src/diffusers/models/autoencoders/autoencoder_kl.py, mirrored at
 * 58eb52c): latents are cut into tiles of {@code tile} latent pixels starting every 75% of a tile,
 * each tile is decoded alone, each decoded tile is blended into the one above and the one to its
 * left linearly across the 25% overlap, and the top-left {@code rowLimit} pixels of every tile make
 * the image.
 *
 * <p>Like the reference, a tile is blended with its already-blended neighbours. Unlike it, only the
 * previous row of decoded tiles is kept (the reference keeps all), so the peak is two rows of tiles
 * plus the output.
 */
final class TiledDecode {
    /** The reference's tile_overlap_factor. */
    static final double OVERLAP_FACTOR = 0.25;

    private TiledDecode() {}

    /**
     * latents (N, L, h, w) -> images (N, C, factor h, factor w) on the latents' manager; {@code
     * decodeTile} maps a (N, L, th, tw) tile to (N, C, factor th, factor tw).
     */
    static NDArray decode(NDArray latents, int tile, int factor, UnaryOperator<NDArray> decodeTile) {
        Shape s = latents.getShape(); // (N, L, h, w)
        long h = s.get(2);
        long w = s.get(3);
        int overlapSize = (int) (tile * (1 - OVERLAP_FACTOR)); // latent stride between tiles
        int sampleTile = tile * factor;
        int blendExtent = (int) (sampleTile * OVERLAP_FACTOR);
        int rowLimit = sampleTile - blendExtent;
        NDManager manager = latents.getManager();
        try (NDManager work = manager.newSubManager()) {
            List<NDArray> previous = null; // the row above, blended: (N, C, th, tw) each
            NDList resultRows = new NDList(); // (N, C, rows, factor w) each
            for (long i = 0; i < h; i += overlapSize) {
                List<NDArray> row = new ArrayList<>();
                for (long j = 0; j < w; j += overlapSize) {
                    NDArray part = latents.get(new NDIndex(
                            ":, :, {}:{}, {}:{}",
                            i,
                            Math.min(h, i + tile),
                            j,
                            Math.min(w, j + tile))); // (N, L, th, tw)
                    part.attach(work);
                    NDArray decoded = decodeTile.apply(part); // (N, C, factor th, factor tw)
                    decoded.attach(work);
                    row.add(decoded);
                }
                NDList cropped = new NDList(row.size());
                for (int j = 0; j < row.size(); j++) {
                    NDArray t = row.get(j);
                    if (previous != null) {
                        blendV(previous.get(j), t, blendExtent);
                    }
                    if (j > 0) {
                        blendH(row.get(j - 1), t, blendExtent);
                    }
                    Shape ts = t.getShape();
                    cropped.add(t.get(new NDIndex(
                            ":, :, :{}, :{}", Math.min(rowLimit, ts.get(2)), Math.min(rowLimit, ts.get(3)))));
                }
                resultRows.add(NDArrays.concat(cropped, 3)); // (N, C, rows, factor w)
                cropped.close();
                if (previous != null) {
                    previous.forEach(NDArray::close);
                }
                previous = row;
            }
            NDArray image = NDArrays.concat(resultRows, 2); // (N, C, factor h, factor w)
            image.attach(manager);
            return image;
        }
    }

    /**
     * blend_v: the first rows of b (N, C, bh, bw) become a linear mix of a's last rows and b's own,
     * weight y / extent on b for row y, in place; extent is capped by both heights.
     */
    static void blendV(NDArray a, NDArray b, int blendExtent) {
        long e = Math.min(Math.min(a.getShape().get(2), b.getShape().get(2)), blendExtent);
        if (e <= 0) {
            return;
        }
        long ah = a.getShape().get(2);
        try (NDManager scope = b.getManager().newSubManager()) {
            NDArray ramp = scope.arange(0f, (float) e).div((float) e).reshape(1, 1, e, 1); // (1, 1, e, 1)
            NDArray top = a.get(new NDIndex(":, :, {}:, :", ah - e)); // (N, C, e, bw)
            NDArray head = b.get(new NDIndex(":, :, :{}, :", e)); // (N, C, e, bw)
            top.attach(scope);
            head.attach(scope);
            NDArray mixed = top.mul(ramp.neg().add(1f)).add(head.mul(ramp));
            b.set(new NDIndex(":, :, :{}, :", e), mixed);
        }
    }

    /** blend_h: as {@link #blendV} along the width, a's last columns into b's first. */
    static void blendH(NDArray a, NDArray b, int blendExtent) {
        long e = Math.min(Math.min(a.getShape().get(3), b.getShape().get(3)), blendExtent);
        if (e <= 0) {
            return;
        }
        long aw = a.getShape().get(3);
        try (NDManager scope = b.getManager().newSubManager()) {
            NDArray ramp = scope.arange(0f, (float) e).div((float) e).reshape(1, 1, 1, e); // (1, 1, 1, e)
            NDArray left = a.get(new NDIndex(":, :, :, {}:", aw - e)); // (N, C, bh, e)
            NDArray head = b.get(new NDIndex(":, :, :, :{}", e)); // (N, C, bh, e)
            left.attach(scope);
            head.attach(scope);
            NDArray mixed = left.mul(ramp.neg().add(1f)).add(head.mul(ramp));
            b.set(new NDIndex(":, :, :, :{}", e), mixed);
        }
    }
}
