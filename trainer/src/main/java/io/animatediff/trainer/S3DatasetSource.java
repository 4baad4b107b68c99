package io.animatediff.trainer;

import io.animatediff.common.store.ObjectNotFoundException;
import io.animatediff.common.store.ObjectStore;
import io.animatediff.common.store.ObjectSummary;
import io.animatediff.engine.training.DatasetSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.TreeSet;

/**
 * A dataset under an object-store prefix ({@code s3://<bucket>/<prefix>/clips.jsonl} and the videos
 * it names). Nothing is downloaded up front: {@code clips.jsonl} is streamed line by line and each
 * clip is fetched when the trainer reaches it (the engine's {@code ClipDataset} copies one clip at
 * a time to a temporary place and deletes it after decoding).
 */
public final class S3DatasetSource implements DatasetSource {
    private final ObjectStore store;
    private final String prefix;

    /**
     * @param store a store on the dataset's bucket
     * @param prefix the key prefix holding clips.jsonl, with or without a trailing '/' ("" = bucket root)
     */
    public S3DatasetSource(ObjectStore store, String prefix) {
        this.store = store;
        String p = prefix == null ? "" : prefix;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        this.prefix = p.isEmpty() || p.endsWith("/") ? p : p + "/";
    }

    /** The bucket and prefix of an {@code s3://bucket/prefix} URI. */
    public record Location(String bucket, String prefix) {
        /** Parses {@code s3://bucket[/prefix]}; refuses anything else, saying what to pass. */
        public static Location parse(String uri) {
            if (uri == null || !uri.startsWith("s3://") || uri.length() == "s3://".length()) {
                throw new IllegalArgumentException(
                        "dataset '" + uri + "' is not an s3:// URI: pass s3://<bucket>/<prefix> holding " + INDEX);
            }
            String rest = uri.substring("s3://".length());
            int slash = rest.indexOf('/');
            return slash < 0
                    ? new Location(rest, "")
                    : new Location(rest.substring(0, slash), rest.substring(slash + 1));
        }
    }

    @Override
    public String describe() {
        return "s3://" + store.bucket() + "/" + prefix;
    }

    @Override
    public InputStream open(String relativePath) throws IOException {
        String key = key(relativePath);
        try {
            return store.get(key);
        } catch (ObjectNotFoundException e) {
            NoSuchFileException n = new NoSuchFileException(describe() + relativePath);
            n.initCause(e);
            throw n;
        }
    }

    @Override
    public List<String> list(String relativePath) throws IOException {
        String folder = key(relativePath);
        folder = folder.endsWith("/") ? folder : folder + "/";
        TreeSet<String> names = new TreeSet<>();
        for (ObjectSummary o : store.list(folder)) {
            String rest = o.key().substring(folder.length());
            if (!rest.isEmpty() && rest.indexOf('/') < 0) {
                names.add(rest);
            }
        }
        return List.copyOf(names);
    }

    private String key(String relativePath) {
        if (relativePath.startsWith("/")
                || relativePath.contains("\\")
                || List.of(relativePath.split("/")).contains("..")) {
            throw new IllegalArgumentException(
                    "'" + relativePath + "' leaves the dataset " + describe() + ": paths must be relative to it");
        }
        return prefix + relativePath;
    }
}
