package io.animatediff.engine.unet;

import ai.djl.ndarray.NDArray;
import io.animatediff.engine.nn.Conv2d;
import io.animatediff.engine.nn.GroupNorm;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.nn.Scoped;
import io.animatediff.engine.ops.Ops;

/**
 * Ports diffusers.models.resnet.ResnetBlock2D (AnimateDiff's ResnetBlock3D with inflated convs):
 * norm1 -> SiLU -> conv1 -> + time_emb_proj(SiLU(temb)) -> norm2 -> SiLU -> conv2 -> + shortcut.
 */
public final class ResnetBlock2D extends Module {
    final GroupNorm norm1;
    final Conv2d conv1;
    final Linear timeEmbProj;
    final GroupNorm norm2;
    final Conv2d conv2;
    final Conv2d convShortcut;

    /** temb channels 0 means no time embedding (the VAE's resnets). */
    public ResnetBlock2D(int in, int out, int tembChannels, int groups, double eps) {
        norm1 = child("norm1", new GroupNorm(groups, in, eps));
        conv1 = child("conv1", new Conv2d(in, out, 3, 1, 1));
        timeEmbProj = tembChannels > 0 ? child("time_emb_proj", new Linear(tembChannels, out, true)) : null;
        norm2 = child("norm2", new GroupNorm(groups, out, eps));
        conv2 = child("conv2", new Conv2d(out, out, 3, 1, 1));
        convShortcut = in != out ? child("conv_shortcut", new Conv2d(in, out, 1, 1, 0)) : null;
    }

    /**
     * x ((B F), Cin, H, W), temb ((B F), T) or null -> ((B F), Cout, H, W). {@code frames} and
     * {@code perFrameNorm} choose the GroupNorm statistics (see {@link VideoLayout#groupNorm}).
     */
    public NDArray forward(NDArray x, NDArray temb, int frames, boolean perFrameNorm) {
        return Scoped.forward(() -> body(x, temb, frames, perFrameNorm));
    }

    private NDArray body(NDArray x, NDArray temb, int frames, boolean perFrameNorm) {
        // 1. first conv
        NDArray h = Ops.silu(VideoLayout.groupNorm(norm1, x, frames, perFrameNorm));
        h = conv1.forward(h); // ((B F), Cout, H, W)
        // 2. time embedding, broadcast over H, W
        if (timeEmbProj != null && temb != null) {
            NDArray t = timeEmbProj.forward(Ops.silu(temb)); // ((B F), Cout)
            h = h.add(t.expandDims(2).expandDims(3));
        }
        // 3. second conv
        h = Ops.silu(VideoLayout.groupNorm(norm2, h, frames, perFrameNorm));
        h = conv2.forward(h);
        // 4. shortcut
        NDArray skip = convShortcut == null ? x : convShortcut.forward(x);
        return skip.add(h);
    }

    /** Image-only forward (VAE): per-sample statistics. */
    public NDArray forward(NDArray x, NDArray temb) {
        return forward(x, temb, 1, true);
    }
}
