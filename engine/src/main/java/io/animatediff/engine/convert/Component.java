package io.animatediff.engine.convert;

/** The model a checkpoint key belongs to; its keys use diffusers' names for that model. */
public enum Component {
    /** UNet2DConditionModel (plus the motion modules, official AnimateDiff layout). */
    UNET,
    /** AutoencoderKL. */
    VAE,
    /** CLIPTextModel. */
    TEXT_ENCODER
}
