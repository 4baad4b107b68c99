package io.animatediff.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.S3ProxyServer;
import io.animatediff.common.store.StoreConfig;
import io.animatediff.engine.training.ClipDataset;
import io.animatediff.engine.training.DatasetSource;
import io.animatediff.engine.training.DatasetSources;
import io.animatediff.engine.training.SyntheticClips;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * An S3 dataset on a real S3-protocol server: GIF and PNG-folder clips stream through the engine's
 * ClipDataset, bad lines (missing video, too short, unsafe path) are skipped and counted, and the
 * CLI's {@code DatasetSources.open("s3://...")} finds this module's provider.
 */
class S3DatasetSourceTest {
    @Test
    void clipsStreamFromAPrefixAndBadOnesAreCounted() throws Exception {
        Path dir = Files.createTempDirectory("s3-dataset");
        try (S3ProxyServer s3 = S3ProxyServer.startInMemory();
                ObjectStore store = s3.newStore("clips")) {
            store.ensureBucket();
            List<SyntheticClips.Entry> entries = SyntheticClips.write(dir, 2, 6, 32, 3);
            String shortClip = SyntheticClips.write(dir.resolve("short"), 1, 2, 32, 4)
                    .get(0)
                    .video();
            Files.writeString(
                    dir.resolve("clips.jsonl"),
                    "{\"video\": \"missing.gif\", \"caption\": \"x\"}\n"
                            + "{\"video\": \"short/" + shortClip + "\", \"caption\": \"x\"}\n"
                            + "{\"video\": \"../up.gif\", \"caption\": \"x\"}\n",
                    java.nio.file.StandardOpenOption.APPEND);
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path f : walk.filter(Files::isRegularFile).toList()) {
                    store.put("sets/a/" + dir.relativize(f).toString().replace('\\', '/'), f);
                }
            }
            DatasetSource source = new S3DatasetSource(store, "sets/a");
            assertEquals("s3://clips/sets/a/", source.describe());
            assertThrows(NoSuchFileException.class, () -> source.open("nothing.gif"));
            List<String> messages = new ArrayList<>();
            try (ClipDataset d =
                    ClipDataset.open(source, 4, 1, 32, 9, ClipDataset.Position.START, Map.of(), messages::add)) {
                List<String> videos = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    ClipDataset.Clip c = d.next();
                    assertEquals(4 * 3 * 32 * 32, c.pixels().length);
                    videos.add(c.video());
                }
                assertEquals(
                        List.of(
                                entries.get(0).video(),
                                entries.get(1).video(),
                                entries.get(0).video(),
                                entries.get(1).video()),
                        videos);
                assertEquals(
                        Map.of(
                                ClipDataset.MISSING_VIDEO, 1L,
                                ClipDataset.TOO_SHORT, 1L,
                                ClipDataset.UNSAFE_PATH, 1L),
                        d.skipped());
            }
            assertTrue(messages.stream().anyMatch(m -> m.contains("missing.gif")), messages.toString());

            // the CLI path: ./animatediff train --dataset s3://clips/sets/a
            StoreConfig c = store.config();
            System.setProperty(StoreConfig.propertyName(StoreConfig.ENV_ENDPOINT), c.endpoint());
            System.setProperty(StoreConfig.propertyName(StoreConfig.ENV_ACCESS_KEY), c.accessKey());
            System.setProperty(StoreConfig.propertyName(StoreConfig.ENV_SECRET_KEY), c.secretKey());
            try {
                DatasetSource viaCli = DatasetSources.open("s3://clips/sets/a/");
                try (var in = viaCli.open(DatasetSource.INDEX)) {
                    String index = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                    assertTrue(index.contains(entries.get(1).video()), index);
                }
            } finally {
                System.clearProperty(StoreConfig.propertyName(StoreConfig.ENV_ENDPOINT));
                System.clearProperty(StoreConfig.propertyName(StoreConfig.ENV_ACCESS_KEY));
                System.clearProperty(StoreConfig.propertyName(StoreConfig.ENV_SECRET_KEY));
            }
        } finally {
            S3Checkpoints.deleteTree(dir);
        }
    }
}
