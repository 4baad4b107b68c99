package io.animatediff.engine.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import io.animatediff.engine.config.CLIPTextConfig;
import io.animatediff.engine.nn.Linear;
import io.animatediff.engine.nn.Module;
import io.animatediff.engine.ops.Ops;

/** Ports transformers.models.clip.modeling_clip.CLIPMLP: fc1 -> activation -> fc2. */
public final class CLIPMLP extends Module {
    final Linear fc1;
    final Linear fc2;
    final boolean quickGelu;

    /** {@code hiddenAct} "quick_gelu" or "gelu" (exact). */
    public CLIPMLP(int dim, int intermediate, String hiddenAct) {
        if (!hiddenAct.equals(CLIPTextConfig.QUICK_GELU) && !hiddenAct.equals(CLIPTextConfig.GELU)) {
            throw new IllegalArgumentException("CLIPMLP: hidden_act '" + hiddenAct + "' is not supported ("
                    + CLIPTextConfig.QUICK_GELU + ", " + CLIPTextConfig.GELU + ")");
        }
        this.quickGelu = hiddenAct.equals(CLIPTextConfig.QUICK_GELU);
        fc1 = child("fc1", new Linear(dim, intermediate, true));
        fc2 = child("fc2", new Linear(intermediate, dim, true));
    }

    /** x (B, S, C) -> (B, S, C). */
    public NDArray forward(NDArray x) {
        NDArray h = fc1.forward(x); // (B, S, I)
        h = quickGelu ? quickGelu(h) : Ops.gelu(h);
        return fc2.forward(h);
    }

    /** transformers' QuickGELUActivation: x * sigmoid(1.702 x). */
    public static NDArray quickGelu(NDArray x) {
        return x.mul(Activation.sigmoid(x.mul(1.702)));
    }
}
