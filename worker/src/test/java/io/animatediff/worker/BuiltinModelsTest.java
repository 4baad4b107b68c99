package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.protocol.ModelKind;
import io.animatediff.common.registry.ModelFile;
import io.animatediff.common.registry.ModelFormat;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.S3ProxyServer;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BuiltinModelsTest {
    @TempDir
    Path tmp;

    @Test
    void registersTheTinyModelAsADiffusersFolderAndAMotionFileIdempotently() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.startInMemory();
                ObjectStore store = s3.newStore("builtin-test")) {
            ModelRegistry registry = new ModelRegistry(store);
            BuiltinModels.Registered first = BuiltinModels.register(registry, tmp.resolve("a"));
            BuiltinModels.Registered again = BuiltinModels.register(registry, tmp.resolve("b"));

            assertEquals(first, again, "the same bytes register once");
            assertEquals(ModelFormat.DIFFUSERS, first.base().format());
            List<String> paths =
                    first.base().files().stream().map(ModelFile::path).toList();
            for (String p : List.of(
                    "model_index.json",
                    "unet/config.json",
                    "unet/diffusion_pytorch_model.safetensors",
                    "vae/config.json",
                    "vae/diffusion_pytorch_model.safetensors",
                    "text_encoder/config.json",
                    "text_encoder/model.safetensors",
                    "tokenizer/vocab.json",
                    "tokenizer/merges.txt",
                    "scheduler/scheduler_config.json")) {
                assertTrue(paths.contains(p), p + " missing from " + paths);
            }
            assertEquals(ModelFormat.MOTION_SAFETENSORS, first.motion().format());
            assertEquals(
                    List.of(BuiltinModels.MOTION_FILE),
                    first.motion().files().stream().map(ModelFile::path).toList());
            assertEquals(OptionalInt.of(32), first.motion().maxFrames());
            assertTrue(registry.exists(ModelKind.BASE, BuiltinModels.NAME));
            assertTrue(registry.exists(ModelKind.MOTION, BuiltinModels.NAME));
        }
    }
}
